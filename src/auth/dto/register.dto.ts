import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsString, Matches } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';

export class RegisterDto {
  @ApiProperty({ pattern: '^[a-z0-9_]{3,32}$', example: 'ada_l' })
  @IsString()
  @Matches(/^[a-z0-9_]{3,32}$/, { message: 'username must be 3-32 of a-z, 0-9 and _' })
  username: string;

  @ApiProperty({ example: 'ada@example.com' })
  // One spelling per address: an é typed precomposed (NFC) or as e + accent (NFD) is the same address, and the
  // unique index only sees bytes.
  @Transform(({ value }) => (typeof value === 'string' ? value.trim().normalize('NFC').toLowerCase() : value))
  @IsString()
  @CharLength(0, 254)
  @IsEmail({}, { message: 'email must be an e-mail address' })
  email: string;

  @ApiProperty({ minLength: 8, maxLength: 128 })
  @IsString()
  @CharLength(8, 128)
  password: string;
}
