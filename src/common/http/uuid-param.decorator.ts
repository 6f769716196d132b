import { Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiError } from '../errors/api-error';

/** A route parameter that must be a UUID; anything else is a 400 naming the parameter, before any query runs. */
export const UuidParam = (name: string): ParameterDecorator =>
  Param(
    name,
    new ParseUUIDPipe({
      exceptionFactory: () => ApiError.badRequest(name, `${name} must be a UUID`),
    }),
  );
