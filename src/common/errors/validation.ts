import { HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError, ErrorDetail } from './api-error';

/** Flattens class-validator's tree into `{ field: 'set.tags[0]', message }` pairs. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const isIndex = /^\d+$/.test(error.property);
    const field = parent ? (isIndex ? `${parent}[${error.property}]` : `${parent}.${error.property}`) : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

export function validationFailed(errors: ValidationError[]): ApiError {
  const details = flattenValidationErrors(errors);
  const fields = [...new Set(details.map((d) => d.field))].join(', ');
  return new ApiError(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', `Invalid input: ${fields}`, details);
}

/**
 * Strict validation for every body, query and param DTO: unknown fields are rejected, types are converted only
 * where a DTO says so (`@Type`), and failures name each field.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationFailed,
  });
}
