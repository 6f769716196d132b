import { CacheService } from '../../src/cache';
import type { CacheModuleOptions } from '../../src/cache';
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

export { eventually, sleep, SLACK_MS } from '../support/timing';
