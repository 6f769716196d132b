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
});
