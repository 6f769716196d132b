import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, Length, MaxLength } from 'class-validator';
import { Visibility, VISIBILITIES } from '../entities/character.entity';
import { TagsField, Trim } from './character-fields';

export class CreateCharacterDto {
  @ApiProperty({ minLength: 1, maxLength: 80 })
  @Trim()
  @IsString()
  @Length(1, 80)
  name: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;

  @TagsField()
  tags?: string[];

  @ApiPropertyOptional({ enum: VISIBILITIES, default: 'public' })
  @IsOptional()
  @IsIn(VISIBILITIES)
  visibility?: Visibility;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  nsfw?: boolean;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  premium?: boolean;
}
