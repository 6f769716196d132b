import type Redis from 'ioredis';
import { CacheService, cacheKey } from '../../src/cache';
import { OwnRedis } from '../support/redis-server';
import { cacheInstance, eventually, tagKeyOf, versionedReader } from './support';

/**
 * Redis full under `maxmemory-policy noeviction` (or a volatile-* policy with nothing left to evict) refuses
 * every command that may add memory — SET, INCR, a script that writes — with an OOM error, and still takes
 * reads, DEL and PUBLISH. An invalidation must still reach every instance then: the write it would have made
 * becomes a removal. The breaker stays closed (Redis answers), so the check is made within its open time: a
 * queued replay (which needs a probe, `openMs` later) would be too late.
 */
describe('cache when Redis is out of memory (noeviction)', () => {
  jest.setTimeout(30_000);
  const OPEN_MS = 5_000;
  let redis: OwnRedis;
  let raw: Redis;
  let a: CacheService;
  let b: CacheService;
  /** Reads Redis only: what a new instance, or one with L1 off, would serve. */
  let c: CacheService;

  beforeEach(async () => {
    redis = await OwnRedis.start(['--maxmemory-policy', 'noeviction']);
    raw = redis.client();
    const options = { breaker: { failureThreshold: 3, openMs: OPEN_MS } };
    a = cacheInstance(redis.url, options);
    b = cacheInstance(redis.url, options);
    c = cacheInstance(redis.url, { ...options, l1MaxBytes: 0 });
    await eventually(() => a.status().busConnected && b.status().busConnected && c.status().busConnected);
  });
  afterEach(async () => {
    raw.disconnect();
    await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown(), c.onApplicationShutdown()]);
    await redis.stop();
  });

  /** Every write refused from now on: used memory is far above a 1-byte limit. */
  const fill = () => raw.config('SET', 'maxmemory', '1');
  const makeRoom = () => raw.config('SET', 'maxmemory', '0');

  const reader = (tags: string[]) => versionedReader(cacheKey('oom', 'item'), { ttl: '1m', tags });

  it('is really refusing writes here, and still deleting and publishing', async () => {
    await raw.set('probe', '1');
    await fill();
    await expect(raw.set('probe-2', '1')).rejects.toThrow(/^OOM/);
    expect(await raw.del('probe')).toBe(1);
    expect(await raw.publish('nobody', 'x')).toBe(0);
  });

  it.each([
    ['a tag invalidation', (cache: CacheService) => cache.invalidateTags(['oom:t'])],
    ['a tag invalidation in expire mode', (cache: CacheService) => cache.invalidateTags(['oom:t'], 'expire')],
    ['a namespace clear', (cache: CacheService) => cache.clearNamespace('oom')],
  ])('%s removes the tag key, and no instance serves the old value, L1 or Redis', async (_, invalidate) => {
    const { state, read } = reader(['oom:t']);
    expect(await read(b)).toBe(1);
    expect(await read(a)).toBe(1);
    expect(state.loads).toBe(1);
    await fill();
    state.version = 2;
    const started = Date.now();
    await invalidate(a);
    // Within the breaker's open time, so no replay can have done it; the bus brings it to b in ms.
    await eventually(async () => (await read(b)) === 2, 500);
    expect(await read(a)).toBe(2);
    expect(await read(c)).toBe(2);
    expect(Date.now() - started).toBeLessThan(OPEN_MS);
    // Nothing left waiting for a Redis that would refuse it forever, and the breaker never opened.
    expect(a.status().pendingInvalidations).toBe(0);
    expect(a.status().breaker).toBe('closed');

    // Memory back: the tag works as before, from a new key (nothing stamped before the removal is served).
    await makeRoom();
    const loads = state.loads;
    expect(await read(b)).toBe(2);
    expect(await read(b)).toBe(2);
    expect(await read(c)).toBe(2);
    expect(state.loads).toBe(loads + 1);
    expect(await raw.exists(tagKeyOf(a, 'oom:t'))).toBe(1);
    state.version = 3;
    await a.invalidateTags(['oom:t']);
    await eventually(async () => (await read(b)) === 3, 1_000);
    expect(await read(c)).toBe(3);
  });

  it('a tag invalidation that waited for Redis is replayed as a removal when Redis is back but full', async () => {
    const { state, read } = reader(['oom:t']);
    expect(await read(b)).toBe(1);
    await fill();
    redis.freeze();
    state.version = 2;
    await a.invalidateTags(['oom:t']);
    expect(a.status().pendingInvalidations).toBe(1);
    redis.thaw();
    // The replay comes with the next probe, `openMs` later.
    await eventually(() => a.status().pendingInvalidations === 0, 2 * OPEN_MS);
    await eventually(async () => (await read(b)) === 2, 500);
    expect(await read(c)).toBe(2);
    expect(await raw.exists(tagKeyOf(a, 'oom:t'))).toBe(0);
  });

  type Key = ReturnType<typeof cacheKey>;
  const set = (cache: CacheService, key: Key) => cache.set(key, 2, { ttl: '1m' });
  // The writer either stamps the entry's tags from what it knows (then the SET itself is refused, after the bus
  // message went out with it) or must ask Redis, which refuses the stamp (a script that writes) before any SET.
  it.each([
    ['set by an instance that knows the tags (the SET is refused)', set, true],
    ['set by an instance that must stamp the tags (the stamp is refused)', set, false],
    ['delete in expire mode', (cache: CacheService, key: Key) => cache.delete([key], 'expire'), true],
  ])('%s: the key is removed from Redis at once, and other instances drop their copy', async (_, write, writerRead) => {
    const { state, read } = reader([]);
    const key = cacheKey('oom', 'keyed');
    expect(await read(b, key)).toBe(1);
    expect(await read(c, key)).toBe(1);
    if (writerRead) {
      expect(await read(a, key)).toBe(1);
    }
    await fill();
    state.version = 2;
    const started = Date.now();
    await write(a, key);
    await eventually(async () => (await read(b, key)) === 2, 500);
    expect(await read(c, key)).toBe(2);
    expect(Date.now() - started).toBeLessThan(OPEN_MS);
    expect(await raw.exists(a.keyOf(key))).toBe(0);
    expect(a.status().pendingInvalidations).toBe(0);
  });

  it('a fill refused for lack of memory removes nothing', async () => {
    const { state, read } = reader([]);
    const key = cacheKey('oom', 'filled');
    expect(await read(b, key)).toBe(1);
    await fill();
    // A miss elsewhere loads and cannot store: nothing is removed on its account.
    expect(await read(c, cacheKey('oom', 'other'))).toBe(1);
    expect(await raw.exists(a.keyOf(key))).toBe(1);
    expect(state.loads).toBe(2);
  });
});
