import { resolveCacheOptions } from './resolve-options';

describe('resolveCacheOptions', () => {
  it('takes the defaults', () => {
    expect(resolveCacheOptions({ prefix: 'app' })).toMatchObject({ keyPrefix: 'app:c1', jitter: 0.1, maxPendingInvalidations: 10_000 });
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses maxPendingInvalidations %p: nothing could wait for Redis', (max) => {
    expect(() => resolveCacheOptions({ prefix: 'app', maxPendingInvalidations: max })).toThrow(
      /maxPendingInvalidations must be a whole number of at least 1/,
    );
  });

  it.each([-0.1, 1])('refuses jitter %p', (jitter) => {
    expect(() => resolveCacheOptions({ prefix: 'app', jitter })).toThrow(/jitter must be in \[0, 1\)/);
  });
});
