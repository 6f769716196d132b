import { Param, ParseUUIDPipe, PipeTransform } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ApiError } from '../errors/api-error';

/**
 * A UUID is accepted in any case but becomes a cache key and an eviction tag, which are compared as strings and
 * which writes build from the database's (lower-case) ids: so every UUID is lower-cased on the way in.
 */
const lowerCase: PipeTransform<string, string> = { transform: (value) => value.toLowerCase() };

/** A route parameter that must be a UUID; anything else is a 400 naming the parameter, before any query runs. */
export const UuidParam = (name: string): ParameterDecorator =>
  Param(
    name,
    new ParseUUIDPipe({
      exceptionFactory: () => ApiError.badRequest(name, `${name} must be a UUID`),
    }),
    lowerCase,
  );

/** A UUID (or a list of them) in a body, lower-cased like UuidParam's; other values are left for the validators. */
export const LowerCaseUuid = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => {
    const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
    return Array.isArray(value) ? value.map(lower) : lower(value);
  });
