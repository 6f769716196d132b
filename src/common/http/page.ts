import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';

export const MAX_PAGE = 10_000;

/**
 * A whole number from a query string, written as decimal digits and nothing else. `Number()` alone would take
 * `0x10`, `1e1`, `+5` and ` 2` (and `''` as 0), so the same page would answer under many URLs, each cached apart.
 * A minus sign is read too, so `-1` is refused as below the minimum (no page or limit is negative), not as "not a
 * number". Anything else stays a string, for `IsInt` to refuse with the field named.
 */
export const QueryInt = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : value));

/** `page` (1-based) and `limit` (1-100, default 20) for every paged list. */
export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE, default: 1 })
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  page: number = 1;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 20;
}

export interface Page<T> {
  items: T[];
  page: number;
  limit: number;
  total: number;
  hasNext: boolean;
}

export function toPage<T>(items: T[], total: number, query: { page: number; limit: number }): Page<T> {
  return { items, page: query.page, limit: query.limit, total, hasNext: query.page * query.limit < total };
}
