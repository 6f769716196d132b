import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';

/**
 * A relative key of [A-Za-z0-9/_.-]: no leading or doubled slash, no `.` or `..` segment, no `..` at all. The CDN
 * URL builder encodes it too, but a key that could climb out of its prefix is refused at the door.
 */
export const STORAGE_KEY_PATTERN = /^(?!.*\.\.)(?!(?:.*\/)?\.(?:\/|$))[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;

export class GeneratedImageDto {
  @ApiProperty({ maxLength: 255, pattern: STORAGE_KEY_PATTERN.source, example: 'generations/2f1c/0.png' })
  @IsString()
  @CharLength(0, 255)
  @Matches(STORAGE_KEY_PATTERN, {
    message: 'storageKey must be a relative path of A-Z, a-z, 0-9, /, _, . and - without ".."',
  })
  storageKey: string;

  @ApiProperty({ minimum: 1, maximum: 16384 })
  @IsInt()
  @Min(1)
  @Max(16384)
  width: number;

  @ApiProperty({ minimum: 1, maximum: 16384 })
  @IsInt()
  @Min(1)
  @Max(16384)
  height: number;
}
