import { ValidationError } from 'class-validator';
import { flattenValidationErrors } from './validation';

const err = (property: string, constraints?: Record<string, string>, children: ValidationError[] = []): ValidationError =>
  Object.assign(new ValidationError(), { property, constraints, children });

describe('flattenValidationErrors', () => {
  it('names nested and indexed fields with dotted paths', () => {
    const details = flattenValidationErrors([
      err('name', { isString: 'name must be a string' }),
      err('set', undefined, [err('nsfw', { isBoolean: 'nsfw must be a boolean' })]),
      err('images', undefined, [err('0', undefined, [err('width', { min: 'too small' })])]),
    ]);
    expect(details).toEqual([
      { field: 'name', message: 'name must be a string' },
      { field: 'set.nsfw', message: 'nsfw must be a boolean' },
      { field: 'images[0].width', message: 'too small' },
    ]);
  });

  it('reports a failed presence or type check alone: the other checks of the field failed only because of it', () => {
    const details = flattenValidationErrors([
      err('page', { max: 'page must not be greater than 10000', min: 'page must not be less than 1', isInt: 'page must be an integer number' }),
      err('tags', { arrayUnique: 'unique', arrayMaxSize: 'at most 20', isArray: 'tags must be an array' }),
      err('set', { isObject: 'set must be an object', nestedValidation: 'nested', isDefined: 'set should not be null or undefined' }),
      err('limit', { max: 'limit must not be greater than 100', isDivisibleBy: 'limit must be divisible by 5' }),
    ]);
    expect(details).toEqual([
      { field: 'page', message: 'page must be an integer number' },
      { field: 'tags', message: 'tags must be an array' },
      { field: 'set', message: 'set should not be null or undefined' },
      { field: 'limit', message: 'limit must not be greater than 100' },
      { field: 'limit', message: 'limit must be divisible by 5' },
    ]);
  });
});
