import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsString, ValidateNested } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';
import { Trim } from '../../characters/dto/character-fields';
import { Omittable } from '../../common/http/omittable.decorator';
import { GenerationParametersDto } from './generation-parameters.dto';

export class CreateGenerationDto {
  @ApiProperty({ minLength: 1, maxLength: 2000 })
  @Trim()
  @IsString()
  @CharLength(1, 2000)
  prompt: string;

  @ApiPropertyOptional({ type: GenerationParametersDto })
  @Omittable()
  @IsObject()
  @ValidateNested()
  @Type(() => GenerationParametersDto)
  parameters?: GenerationParametersDto;
}
