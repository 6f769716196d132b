import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';

export class LoginDto {
  /** Usernames are lower-case only (see RegisterDto): "Alice", as a phone keyboard capitalizes it, is alice. */
  @ApiProperty()
  @Transform(({ value }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsString()
  @CharLength(1, 32)
  username: string;

  @ApiProperty()
  @IsString()
  @CharLength(1, 128)
  password: string;
}
