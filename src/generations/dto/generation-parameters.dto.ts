import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsDivisibleBy, IsInt, IsNumber, IsString, Matches, Max, Min } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';
import { Omittable } from '../../common/http/omittable.decorator';

export const MODEL_PATTERN = /^[a-z0-9._-]+$/;

/**
 * The only generation settings a client may pass. Anything else is rejected by the global whitelist pipe with a
 * 400 naming `parameters.<key>`, so the generator never receives fields we did not review.
 */
export class GenerationParametersDto {
  @ApiPropertyOptional({ minimum: 64, maximum: 2048, multipleOf: 8 })
  @Omittable()
  @IsInt()
  @Min(64)
  @Max(2048)
  @IsDivisibleBy(8)
  width?: number;

  @ApiPropertyOptional({ minimum: 64, maximum: 2048, multipleOf: 8 })
  @Omittable()
  @IsInt()
  @Min(64)
  @Max(2048)
  @IsDivisibleBy(8)
  height?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 150 })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(150)
  steps?: number;

  /** Capped at 2^53-1 so the seed survives JSON in every client unchanged. */
  @ApiPropertyOptional({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  seed?: number;

  @ApiPropertyOptional({ maxLength: 64, pattern: MODEL_PATTERN.source })
  @Omittable()
  @IsString()
  @CharLength(0, 64)
  @Matches(MODEL_PATTERN, { message: 'model must be 1-64 of a-z, 0-9, ".", "_" and "-"' })
  model?: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @Omittable()
  @IsString()
  @CharLength(0, 2000)
  negativePrompt?: string;

  @ApiPropertyOptional({ minimum: 0, maximum: 30 })
  @Omittable()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(30)
  guidance?: number;
}
