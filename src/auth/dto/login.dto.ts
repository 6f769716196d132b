import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';

export class LoginDto {
  @ApiProperty()
  @IsString()
  @CharLength(1, 32)
  username: string;

  @ApiProperty()
  @IsString()
  @CharLength(1, 128)
  password: string;
}
