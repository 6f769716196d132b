import { CacheService } from '../../src/cache';
import type { CacheKey, CacheModuleOptions, CachePolicy } from '../../src/cache';
import { encodeKeyPart } from '../../src/cache/core/keys';

/** A CacheService as an app instance would have it, outside Nest (two of them = two app instances). */
export function cacheInstance(redisUrl: string | null, overrides: Partial<CacheModuleOptions> = {}): CacheService {
  return new CacheService({
    prefix: 'test',
    redis: redisUrl ? { url: redisUrl } : null,
    logInterval: '1h',
    ...overrides,
  });
}

/** The Redis key of a tag, as the cache names it (TagVersions.key). */
export function tagKeyOf(cache: CacheService, tag: string): string {
  return `${cache.options.keyPrefix}:tag:${encodeKeyPart(tag)}`;
}

/**
 * getOrSet of `key` (or another) with a loader that counts its calls and returns `state.version`: set the version
 * a write makes, then see which instances still serve the one before it.
 */
export function versionedReader(key: CacheKey, policy: CachePolicy) {
  const state = { version: 1, loads: 0 };
  const read = (cache: CacheService, which: CacheKey = key) =>
    cache.getOrSet(
      which,
      async () => {
        state.loads++;
        return state.version;
      },
      policy,
    );
  return { state, key, read };
}

export { eventually, sleep, SLACK_MS } from '../support/timing';
