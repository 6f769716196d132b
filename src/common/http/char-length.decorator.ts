import { ValidateBy } from 'class-validator';

const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/** Characters as PostgreSQL counts them in `varchar(n)`: code points (a surrogate pair is one). */
export function charCount(value: string): number {
  return value.length - (value.match(SURROGATE_PAIR)?.length ?? 0);
}

/**
 * A string of `min` to `max` characters, counted as the database counts them. class-validator's `Length`,
 * `MinLength` and `MaxLength` (validator.js) leave out a variation selector (U+FE0E/U+FE0F) that follows a
 * character, so `x` + U+FE0F counted as 1 and a description of 2 000 such pairs passed, then failed in
 * PostgreSQL as a 400 that named no field. Use this instead for every length limit of a DTO.
 */
export const CharLength = (min: number, max = Infinity): PropertyDecorator =>
  ValidateBy({
    name: 'charLength',
    constraints: [min, max],
    validator: {
      validate: (value: unknown) => {
        if (typeof value !== 'string') {
          return false;
        }
        const n = charCount(value);
        return n >= min && n <= max;
      },
      defaultMessage: (args) => {
        const field = args?.property ?? 'value';
        if (max === Infinity) {
          return `${field} must be at least ${min} characters long`;
        }
        return min > 0 ? `${field} must be ${min} to ${max} characters long` : `${field} must be at most ${max} characters long`;
      },
    },
  });
