import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsString } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';
import { Omittable } from '../../common/http/omittable.decorator';
import { Visibility, VISIBILITIES } from '../entities/character.entity';
import { Nfc, TagsField, Trim } from './character-fields';

export class CreateCharacterDto {
  @ApiProperty({ minLength: 1, maxLength: 80 })
  @Trim()
  @IsString()
  @CharLength(1, 80)
  name: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @Omittable()
  @Nfc()
  @IsString()
  @CharLength(0, 2000)
  description?: string;

  @TagsField()
  tags?: string[];

  @ApiPropertyOptional({ enum: VISIBILITIES, default: 'public' })
  @Omittable()
  @IsIn(VISIBILITIES)
  visibility?: Visibility;

  @ApiPropertyOptional({ default: false })
  @Omittable()
  @IsBoolean()
  nsfw?: boolean;

  @ApiPropertyOptional({ default: false })
  @Omittable()
  @IsBoolean()
  premium?: boolean;
}
