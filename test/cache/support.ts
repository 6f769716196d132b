import { CacheService } from '../../src/cache';
import type { CacheModuleOptions } from '../../src/cache';

/** A CacheService as an app instance would have it, outside Nest (two of them = two app instances). */
export function cacheInstance(redisUrl: string | null, overrides: Partial<CacheModuleOptions> = {}): CacheService {
  return new CacheService({
    prefix: 'test',
    redis: redisUrl ? { url: redisUrl } : null,
    logInterval: '1h',
    ...overrides,
  });
}

export { eventually, sleep, SLACK_MS } from '../support/timing';
