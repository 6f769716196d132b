import type { CacheStatus } from '../cache';
import type { RedisSample } from './redis-probe';

/** Redis as the cache sees it: `degraded` = reachable but slow, breaker not closed, or bus disconnected. */
export type RedisState = 'up' | 'degraded' | 'down' | 'not_configured';

/**
 * The cache as a whole: `degraded` = Redis is configured but the cache is running on L1 alone (the silent
 * fallback); `l1-only` = no Redis configured, by choice; `disabled` = CACHE_ENABLED=false.
 */
export type CacheState = 'ok' | 'degraded' | 'l1-only' | 'disabled';

export interface CacheView {
  state: CacheState;
  redis: RedisState;
  pingMs: number | null;
}

/**
 * Combines the cache's own view (is its connection ready, is its breaker closed) with the sampler's last PING.
 * A sample older than `maxAgeMs` is ignored: an outdated "up" must not hide an outage.
 */
export function cacheView(
  enabled: boolean,
  status: CacheStatus,
  sample: RedisSample | null,
  options: { slowMs: number; maxAgeMs: number; now: number },
): CacheView {
  if (!enabled) {
    return { state: 'disabled', redis: 'not_configured', pingMs: null };
  }
  if (!status.redisConfigured) {
    return { state: 'l1-only', redis: 'not_configured', pingMs: null };
  }
  const recent = sample && options.now - sample.at <= options.maxAgeMs ? sample : null;
  const pingMs = recent?.pingMs ?? null;
  if (!status.redisReady || (recent && !recent.ok)) {
    return { state: 'degraded', redis: 'down', pingMs };
  }
  const slow = pingMs !== null && pingMs > options.slowMs;
  const redis: RedisState = status.breaker !== 'closed' || !status.busConnected || slow ? 'degraded' : 'up';
  return { state: status.degraded ? 'degraded' : 'ok', redis, pingMs };
}
