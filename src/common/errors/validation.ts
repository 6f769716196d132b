import { ArgumentMetadata, HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import { ApiError, ErrorDetail } from './api-error';

/**
 * Checks every other check of a field presupposes, strongest first. class-validator runs all of a field's checks
 * and the others fail on a value of the wrong type whatever it is (`Min` and `Max` on any string, so `page=abc`
 * was "not less than 1" and "not greater than 10000" too): when one of these fails, it alone is what is wrong.
 */
const PREREQUISITES: readonly (readonly string[])[] = [
  ['isDefined'],
  ['isInt', 'isNumber', 'isString', 'isBoolean', 'isArray', 'isObject'],
];

/** The messages of the constraints a value breaks: the failed prerequisite if there is one, else all. */
function brokenConstraints(constraints: Record<string, string>): string[] {
  for (const tier of PREREQUISITES) {
    const failed = tier.filter((name) => name in constraints);
    if (failed.length > 0) {
      return failed.map((name) => constraints[name]);
    }
  }
  return Object.values(constraints);
}

/** Flattens class-validator's tree into `{ field: 'set.tags[0]', message }` pairs. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const isIndex = /^\d+$/.test(error.property);
    const field = parent ? (isIndex ? `${parent}[${error.property}]` : `${parent}.${error.property}`) : error.property;
    const own = brokenConstraints(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

export function validationFailed(errors: ValidationError[]): ApiError {
  const details = flattenValidationErrors(errors);
  const fields = [...new Set(details.map((d) => d.field))].join(', ');
  return new ApiError(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', `Invalid input: ${fields}`, details);
}

/**
 * ValidationPipe, but a key naming a member of the DTO's prototype chain (`__proto__`, `constructor`, `toString`)
 * is refused like any other unknown one. class-transformer never copies such keys onto the instance, so the
 * whitelist never saw them and `?__proto__=1` was silently accepted. JSON bodies are checked for them at parsing
 * (app.setup.ts); query strings and other bodies reach only this.
 */
class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const metatype = metadata.metatype;
    if (metatype && value !== null && typeof value === 'object' && !Array.isArray(value) && this.toValidate(metadata)) {
      const dropped = Object.keys(value).find((key) => key in metatype.prototype);
      if (dropped !== undefined) {
        throw validationFailed([{ property: dropped, constraints: { whitelistValidation: `property ${dropped} should not exist` }, children: [] }]);
      }
    }
    return super.transform(value, metadata);
  }
}

/**
 * Strict validation for every body, query and param DTO: unknown fields are rejected, types are converted only
 * where a DTO says so (`@Type`), and failures name each field.
 */
export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: validationFailed,
  });
}
