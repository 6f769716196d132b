import type Redis from 'ioredis';
import { CacheService, cacheKey, type Duration } from '../../src/cache';
import { OwnRedis } from '../support/redis-server';
import { cacheInstance, eventually, sleep, tagKeyOf, versionedReader } from './support';

/**
 * Redis can come back without its last writes and with the ones before: a failover to a replica they had not
 * reached yet, a restart from an append-only file synced once a second. Here a snapshot (SAVE) taken before an
 * invalidation, and a restart from it, stand for that: the entries and the tag key come back as they were
 * before the invalidation, so nothing in Redis says they are stale. The instance that made the invalidation
 * makes it again once its connection is back (`redoWindow`).
 */
describe('cache when Redis comes back without its last writes', () => {
  jest.setTimeout(30_000);
  let redis: OwnRedis;
  let raw: Redis;
  let a: CacheService;
  let b: CacheService;
  /** Reads Redis only: what a new instance, or one with L1 off, would serve. */
  let c: CacheService;

  async function start(redoWindow?: Duration): Promise<void> {
    const options = redoWindow === undefined ? {} : { redoWindow };
    a = cacheInstance(redis.url, options);
    b = cacheInstance(redis.url, options);
    c = cacheInstance(redis.url, { ...options, l1MaxBytes: 0 });
    await connected();
  }

  const connected = () =>
    eventually(() => [a, b, c].every((cache) => cache.status().redisReady && cache.status().busConnected));

  beforeEach(async () => {
    redis = await OwnRedis.start();
    raw = redis.client();
  });
  afterEach(async () => {
    raw.disconnect();
    await Promise.all([a, b, c].map((cache) => cache?.onApplicationShutdown()));
    await redis.stop();
  });

  /** Redis restarts from the snapshot taken at `checkpoint`: whatever was written since is gone. */
  const checkpoint = () => raw.save();
  async function loseWritesSinceCheckpoint(): Promise<void> {
    await redis.restart();
    raw.disconnect();
    raw = redis.client();
    await connected();
  }

  const reader = (tags: string[] = []) => versionedReader(cacheKey('lost', 'item'), { ttl: '1h', tags });

  it.each([
    ['a tag invalidation', (cache: CacheService) => cache.invalidateTags(['lost:t'])],
    ['a tag invalidation in expire mode', (cache: CacheService) => cache.invalidateTags(['lost:t'], 'expire')],
    ['a namespace clear', (cache: CacheService) => cache.clearNamespace('lost')],
    ['a delete', (cache: CacheService) => cache.delete([cacheKey('lost', 'item')])],
    ['a delete in expire mode', (cache: CacheService) => cache.delete([cacheKey('lost', 'item')], 'expire')],
    ['a set', (cache: CacheService) => cache.set(cacheKey('lost', 'item'), 2, { ttl: '1h', tags: ['lost:t'] })],
  ])('%s that Redis lost is made again once it is back, and no instance keeps the old value', async (_, invalidate) => {
    await start();
    const { state, read } = reader(['lost:t']);
    expect(await read(a)).toBe(1);
    expect(await read(b)).toBe(1);
    await checkpoint();
    state.version = 2;
    await invalidate(a);
    expect(await read(c)).toBe(2);

    await loseWritesSinceCheckpoint();
    // The instances that did not invalidate cleared their L1 when their bus came back, and read Redis: the old
    // value is there, as if fresh, until the redo reaches it.
    await eventually(async () => (await read(c)) === 2 && (await read(b)) === 2 && (await read(a)) === 2, 1_000);
    await eventually(() => a.metrics.invalidationsRedone === 1);
    expect(b.metrics.invalidationsRedone + c.metrics.invalidationsRedone).toBe(0);
  });

  it('makes again only what was done within the window before Redis last answered', async () => {
    await start('300ms');
    const older = cacheKey('lost', 'older');
    const newer = cacheKey('lost', 'newer');
    const loader = (value: string) => async () => value;
    await a.getOrSet(older, loader('old'), { ttl: '1h', tags: ['lost:older'] });
    await a.getOrSet(newer, loader('old'), { ttl: '1h', tags: ['lost:newer'] });
    await checkpoint();
    const tagKeys = ['lost:older', 'lost:newer'].map((t) => tagKeyOf(a, t));
    const saved = await Promise.all(tagKeys.map((k) => raw.hget(k, 'v')));
    await a.invalidateTags(['lost:older']);
    await sleep(900);
    await a.invalidateTags(['lost:newer']);
    // Idle, longer than the window: what counts is when Redis last answered, not when the connection dropped.
    await sleep(900);

    await loseWritesSinceCheckpoint();
    await eventually(async () => (await c.getOrSet(newer, loader('new'), { ttl: '1h', tags: ['lost:newer'] })) === 'new', 1_000);
    await eventually(() => a.metrics.invalidationsRedone === 1);
    // The older invalidation stays lost (outside the window): its tag key is as the snapshot had it.
    const [older2, newer2] = await Promise.all(tagKeys.map((k) => raw.hget(k, 'v')));
    expect(older2).toBe(saved[0]);
    expect(Number(newer2)).toBeGreaterThan(Number(saved[1]));
  });

  it('makes nothing again with redoWindow 0', async () => {
    await start(0);
    const { state, read } = reader(['lost:t']);
    expect(await read(a)).toBe(1);
    await checkpoint();
    state.version = 2;
    await a.invalidateTags(['lost:t']);
    await loseWritesSinceCheckpoint();
    await sleep(300);
    expect(a.metrics.invalidationsRedone).toBe(0);
    // What turning it off costs: the lost invalidation is lost for instances that read Redis.
    expect(await read(c)).toBe(1);
  });

  it.each([
    ['a delete', (cache: CacheService) => cache.delete([cacheKey('lost', 'item')])],
    ['a tag invalidation', (cache: CacheService) => cache.invalidateTags(['lost:t'])],
  ])('keeps the instance that redoes %s off the old value in Redis, whenever it reads', async (_, invalidate) => {
    await start();
    const { state, read } = reader(['lost:t']);
    expect(await read(a)).toBe(1);
    await checkpoint();
    state.version = 2;
    await invalidate(a);
    const loads = state.loads;
    await redis.restart();
    // Whatever the order of the reconnects (commands, bus) and this read, `a` never serves what it invalidated.
    await eventually(() => a.status().redisReady);
    expect(await read(a)).toBe(2);
    expect(state.loads).toBeGreaterThan(loads);
  });

  it('redoes at once when the connection is back, even if the breaker opened during the outage', async () => {
    const OPEN_MS = 10_000;
    a = cacheInstance(redis.url, { breaker: { failureThreshold: 2, openMs: OPEN_MS } });
    b = cacheInstance(redis.url);
    c = cacheInstance(redis.url, { l1MaxBytes: 0 });
    await connected();
    const { state, read } = reader(['lost:t']);
    expect(await read(a)).toBe(1);
    await checkpoint();
    state.version = 2;
    await a.invalidateTags(['lost:t']);
    await redis.kill();
    // Calls during the outage open a's breaker: without the new connection closing it, the redo would wait for
    // the next probe, OPEN_MS on.
    await eventually(async () => {
      await a.get(cacheKey('lost', 'other'));
      return a.status().breaker === 'open';
    });
    await redis.spawn();
    raw.disconnect();
    raw = redis.client();
    await eventually(() => a.status().redisReady);
    const backAt = Date.now();
    await eventually(async () => (await read(c)) === 2, 1_000);
    expect(Date.now() - backAt).toBeLessThan(OPEN_MS / 2);
  });
});
