import { applyDecorators } from '@nestjs/common';
import { Matches, ValidateBy } from 'class-validator';

/** `2026-01-31T12:00:00Z`, with optional seconds, fraction and offset: the calendar forms JavaScript reads. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A date-time JavaScript turns into a valid Date. `@IsISO8601({ strict: true })` also passes week dates
 * (`2024-W01-1`), ordinal dates (`2024-366`) and six-digit years, which `new Date()` reads as Invalid Date: a
 * 500 further down, or a billing event retried forever.
 */
export const IsDateTime = (): PropertyDecorator =>
  applyDecorators(
    Matches(DATE_TIME, { message: ({ property }) => `${property} must be a date-time such as 2026-01-31T12:00:00Z` }),
    ValidateBy({
      name: 'isValidDate',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && !Number.isNaN(Date.parse(value)),
        defaultMessage: (args) => `${args?.property ?? "value"} is not a real date`,
      },
    }),
  );
