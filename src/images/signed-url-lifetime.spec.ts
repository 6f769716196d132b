import { CACHEABLE } from '../cache/cache.constants';
import { toMs } from '../cache/core/duration';
import type { CacheablePolicy } from '../cache/decorators/cache-policies';
import { CDN_URL_MIN_VALIDITY_FLOOR_S } from '../config';
import { ImagesService } from './images.service';

/** The engine's default TTL jitter (`RedisCacheModule`'s `jitter`, not set by this app). */
const DEFAULT_JITTER = 0.1;

/** Cached methods whose values carry no image URL. A new cached method must be sorted into one list or the other. */
const WITHOUT_URLS = ['userIdOf'];

describe('signed image URLs and the caches that carry them', () => {
  // Every image response carries signed variant URLs: a cached one must never outlive the signature.
  const cached = Object.getOwnPropertyNames(ImagesService.prototype)
    .map((name) => [name, Reflect.getMetadata(CACHEABLE, ImagesService.prototype[name as keyof ImagesService])])
    .filter((entry): entry is [string, CacheablePolicy<unknown[], unknown>] => entry[1] !== undefined);
  const policies = cached.filter(([name]) => !WITHOUT_URLS.includes(name));

  it('knows every cached method of the images service (not vacuous)', () => {
    expect(policies.map(([name]) => name).sort()).toEqual(['galleryPage', 'loadImage', 'uploadsPage']);
    expect(cached.length).toBe(policies.length + WITHOUT_URLS.length);
  });

  it.each(policies.map(([name, policy]) => [name, policy] as const))(
    '%s lives no longer than CDN_URL_MIN_VALIDITY_S may be',
    (_name, policy) => {
      expect(policy.ttl).toBeDefined();
      expect(policy.grace).toBeDefined();
      const longestMs = toMs(policy.ttl!) * (1 + (policy.jitter ?? DEFAULT_JITTER)) + toMs(policy.grace!);
      expect(longestMs).toBeLessThanOrEqual(CDN_URL_MIN_VALIDITY_FLOOR_S * 1_000);
    },
  );
});
