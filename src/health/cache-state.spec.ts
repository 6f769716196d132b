import type { CacheStatus } from '../cache';
import { cacheView } from './cache-state';
import { down, RedisSample } from './redis-probe';

const healthy: CacheStatus = {
  redisConfigured: true,
  redisReady: true,
  busConnected: true,
  breaker: 'closed',
  l1Entries: 0,
  l1Bytes: 0,
  pendingInvalidations: 0,
  degraded: false,
};
const NOW = 1_000_000;
const options = { slowMs: 100, maxAgeMs: 15_000, now: NOW };
const sample = (pingMs: number, at = NOW - 1_000): RedisSample => ({
  at,
  ok: true,
  pingMs,
  usedMemoryBytes: 1,
  maxMemoryBytes: 0,
  maxMemoryPolicy: 'noeviction',
  evictedKeys: 0,
});

describe('cacheView', () => {
  it('up: connection ready, breaker closed, bus connected, fast PING', () => {
    expect(cacheView(true, healthy, sample(2), options)).toEqual({ state: 'ok', redis: 'up', pingMs: 2 });
  });

  it('no Redis configured is a choice (l1-only), a disabled cache says so; neither is degraded', () => {
    expect(
      cacheView(true, { ...healthy, redisConfigured: false, redisReady: false }, null, options),
    ).toMatchObject({
      state: 'l1-only',
      redis: 'not_configured',
    });
    expect(cacheView(false, healthy, sample(2), options)).toMatchObject({ state: 'disabled' });
  });

  it('down when the cache connection is not ready, or when the sampler cannot PING (frozen Redis)', () => {
    expect(
      cacheView(true, { ...healthy, redisReady: false, degraded: true }, sample(2), options),
    ).toMatchObject({
      state: 'degraded',
      redis: 'down',
    });
    expect(cacheView(true, healthy, down(NOW - 100, 'timeout'), options)).toMatchObject({
      state: 'degraded',
      redis: 'down',
      pingMs: null,
    });
  });

  it('degraded Redis: slow PING, breaker not closed, or bus lost', () => {
    expect(cacheView(true, healthy, sample(250), options)).toMatchObject({
      state: 'ok',
      redis: 'degraded',
      pingMs: 250,
    });
    expect(
      cacheView(true, { ...healthy, breaker: 'open', degraded: true }, sample(2), options),
    ).toMatchObject({
      state: 'degraded',
      redis: 'degraded',
    });
    expect(cacheView(true, { ...healthy, busConnected: false }, sample(2), options).redis).toBe('degraded');
  });

  it('ignores a sample older than maxAgeMs: an outdated failure or latency says nothing now', () => {
    expect(cacheView(true, healthy, down(NOW - 20_000, 'timeout'), options)).toEqual({
      state: 'ok',
      redis: 'up',
      pingMs: null,
    });
    expect(cacheView(true, healthy, sample(900, NOW - 20_000), options).redis).toBe('up');
  });
});
