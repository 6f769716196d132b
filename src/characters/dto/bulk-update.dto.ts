import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsObject,
  IsUUID,
  ValidateNested,
} from 'class-validator';
import { Omittable } from '../../common/http/omittable.decorator';
import { LowerCaseUuid } from '../../common/http/uuid-param.decorator';
import { Visibility, VISIBILITIES } from '../entities/character.entity';
import { TagsField } from './character-fields';

export const BULK_MAX = 500;

export class BulkChangesDto {
  @ApiPropertyOptional({ enum: VISIBILITIES })
  @Omittable()
  @IsIn(VISIBILITIES)
  visibility?: Visibility;

  @TagsField()
  tags?: string[];

  @ApiPropertyOptional()
  @Omittable()
  @IsBoolean()
  nsfw?: boolean;
}

export class BulkUpdateDto {
  @ApiProperty({ type: [String], format: 'uuid', minItems: 1, maxItems: BULK_MAX })
  @LowerCaseUuid()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(BULK_MAX)
  @ArrayUnique()
  @IsUUID('all', { each: true })
  ids: string[];

  @ApiProperty({ type: BulkChangesDto })
  @IsDefined()
  @IsObject({ message: 'set must be an object' })
  @ValidateNested()
  @Type(() => BulkChangesDto)
  set: BulkChangesDto;
}
