import type { Registry } from 'prom-client';
import type { CacheService } from '../cache';
import type { CacheHealthIndicator } from '../health/cache.health';
import type { CacheSampler } from '../health/cache-sampler';
import { gauge, mirroredCounter } from './prom-helpers';

const BREAKER_STATES = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * What the cache and Redis are, read when Prometheus scrapes: Redis up, breaker, L1, bus, and Redis's memory and
 * evictions from the health sampler's last good sample (INFO is sampled on an interval, never per scrape).
 */
export function exposeCacheState(
  registry: Registry,
  cache: CacheService,
  sampler: CacheSampler,
  health: CacheHealthIndicator,
): void {
  // The judgement of GET /health: an open connection that answers no PING (a frozen Redis) is down.
  gauge(
    registry,
    'cache_redis_up',
    'Redis answers the cache (1 up or degraded; 0 down or not configured)',
    () => (['up', 'degraded'].includes(health.view().redis) ? 1 : 0),
  );
  gauge(
    registry,
    'cache_breaker_state',
    'The Redis circuit breaker: 0 closed, 1 half-open, 2 open',
    () => BREAKER_STATES[cache.status().breaker],
  );
  gauge(registry, 'cache_l1_bytes', 'Bytes held by the in-process tier', () => cache.status().l1Bytes);
  gauge(registry, 'cache_l1_entries', 'Entries held by the in-process tier', () => cache.status().l1Entries);
  gauge(registry, 'cache_bus_connected', 'The invalidation bus subscription is up', () =>
    cache.status().busConnected ? 1 : 0,
  );
  mirroredCounter(
    registry,
    'cache_bus_reconnects_total',
    'Times the invalidation bus came back after a loss (each clears L1)',
    () => cache.metrics.busReconnects,
  );
  mirroredCounter(
    registry,
    'cache_invalidations_redone_total',
    'Keys and tags invalidated again after the connection to Redis came back, in case Redis lost the first time',
    () => cache.metrics.invalidationsRedone,
  );

  const sample = () => {
    const last = sampler.redis();
    return last?.ok ? last : null;
  };
  gauge(
    registry,
    'redis_memory_used_bytes',
    'Redis used_memory at the last sample (summed over cluster masters)',
    () => sample()?.usedMemoryBytes,
  );
  gauge(
    registry,
    'redis_memory_max_bytes',
    'Redis maxmemory at the last sample (0: no limit)',
    () => sample()?.maxMemoryBytes,
  );
  gauge(registry, 'cache_redis_ping_seconds', 'Redis PING latency at the last sample', () => {
    const ms = sample()?.pingMs;
    return ms === null || ms === undefined ? undefined : ms / 1000;
  });
  mirroredCounter(
    registry,
    'redis_evicted_keys_total',
    'Keys Redis evicted for memory (evicted_keys), as sampled',
    () => sample()?.evictedKeys,
  );
}
