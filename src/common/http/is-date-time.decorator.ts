import { applyDecorators } from '@nestjs/common';
import { Matches, ValidateBy } from 'class-validator';

/** `2026-01-31T12:00:00Z`, with optional seconds, fraction and offset: the calendar forms JavaScript reads. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Whether a string of DATE_TIME's form names a real instant. `Date.parse` alone is not enough: it takes day 29, 30
 * or 31 of any month and rolls over (`2026-02-31` is 3 March) and takes 24:00 as the next day, so a typo would be
 * stored as another date. The calendar parts must be a real day and a real time of it.
 */
export function isRealDateTime(value: string): boolean {
  const parts = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!parts || Number.isNaN(Date.parse(value))) {
    return false;
  }
  const [year, month, day, hour] = parts.slice(1, 5).map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  return calendar.getUTCFullYear() === year && calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day && hour <= 23;
}

/**
 * A date-time JavaScript turns into a valid Date, and the one it says. `@IsISO8601({ strict: true })` also passes week dates
 * (`2024-W01-1`), ordinal dates (`2024-366`) and six-digit years, which `new Date()` reads as Invalid Date: a
 * 500 further down, or a billing event retried forever.
 */
export const IsDateTime = (): PropertyDecorator =>
  applyDecorators(
    Matches(DATE_TIME, { message: ({ property }) => `${property} must be a date-time such as 2026-01-31T12:00:00Z` }),
    ValidateBy({
      name: 'isValidDate',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isRealDateTime(value),
        defaultMessage: (args) => `${args?.property ?? "value"} is not a real date`,
      },
    }),
  );
