import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';
import { PageQuery } from '../../common/http/page';
import { TAG_MESSAGE, TAG_PATTERN } from './character-fields';

export const LIST_MODES = ['all', 'mine', 'featured', 'new', 'popular'] as const;
export type ListMode = (typeof LIST_MODES)[number];

const normalize = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.normalize('NFC').trim().toLowerCase() : value;

export class ListCharactersQuery extends PageQuery {
  @ApiPropertyOptional({ enum: LIST_MODES, default: 'all' })
  @IsOptional()
  @IsIn(LIST_MODES)
  mode: ListMode = 'all';

  @ApiPropertyOptional()
  @IsOptional()
  @Transform(normalize)
  @IsString()
  @Matches(TAG_PATTERN, { message: TAG_MESSAGE })
  tag?: string;

  /** Words matched as prefixes against name and description. */
  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional()
  @Transform(normalize)
  @IsString()
  @CharLength(0, 100)
  q?: string;
}
