import { Registry } from 'prom-client';
import type { CacheService } from '../cache';
import type { CacheSampler } from '../health/cache-sampler';
import type { CacheHealthIndicator } from '../health/cache.health';
import { down } from '../health/redis-probe';
import { exposeCacheState } from './cache-state-metrics';

describe('Redis gauges', () => {
  it('say nothing they do not know: while Redis is down they export NaN, not the last good sample', async () => {
    const registry = new Registry();
    let sample: unknown = { at: Date.now(), ok: true, pingMs: 3, usedMemoryBytes: 123_456, maxMemoryBytes: 0, maxMemoryPolicy: 'noeviction', evictedKeys: 0 };
    let redis = 'up';
    const cache = { status: () => ({ breaker: 'closed', l1Bytes: 0, l1Entries: 0, busConnected: true }), metrics: { busReconnects: 0, invalidationsRedone: 0 } };
    exposeCacheState(registry, cache as unknown as CacheService, { redis: () => sample } as unknown as CacheSampler, {
      view: () => ({ redis }),
    } as unknown as CacheHealthIndicator);
    // As numbers: prom-client writes NaN as "Nan" (Prometheus parses either).
    const exported = async () =>
      (await registry.metrics())
        .split('\n')
        .filter((line) => /^(redis_memory_used_bytes|cache_redis_ping_seconds|cache_redis_up) /.test(line))
        .map((line) => [line.split(' ')[0], Number(line.split(' ')[1])]);
    expect(await exported()).toEqual([['cache_redis_up', 1], ['redis_memory_used_bytes', 123_456], ['cache_redis_ping_seconds', 0.003]]);
    sample = down(Date.now(), 'unreachable');
    redis = 'down';
    expect(await exported()).toEqual([['cache_redis_up', 0], ['redis_memory_used_bytes', NaN], ['cache_redis_ping_seconds', NaN]]);
  });
});
