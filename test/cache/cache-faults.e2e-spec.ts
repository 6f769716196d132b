import { Logger } from '@nestjs/common';
import { CacheService, cacheKey } from '../../src/cache';
import { CacheMetrics } from '../../src/cache/core/cache-metrics';
import { RedisTier, UNAVAILABLE } from '../../src/cache/core/l2';
import { RateLimitedLogger } from '../../src/cache/core/rate-limited-logger';
import { createRedisClient } from '../../src/cache/redis/redis-clients';
import { OwnRedis } from '../support/redis-server';
import { TcpProxy } from '../support/tcp-proxy';
import { SLACK_MS, cacheInstance, eventually, sleep, tagKeyOf } from './support';

const TIMEOUT = 200;

/**
 * Redis killed (SIGKILL) or frozen (SIGSTOP): every call still returns within the command timeout plus the
 * loader's own time, the breaker opens so later calls do not even wait, and the cache recovers by itself.
 */
describe('cache when Redis dies or freezes', () => {
  jest.setTimeout(30_000);
  let redis: OwnRedis;
  let a: CacheService;
  let b: CacheService;

  beforeEach(async () => {
    redis = await OwnRedis.start();
    a = cacheInstance(redis.url, { commandTimeoutMs: TIMEOUT, breaker: { failureThreshold: 3, openMs: 300 } });
    b = cacheInstance(redis.url, { commandTimeoutMs: TIMEOUT, breaker: { failureThreshold: 3, openMs: 300 } });
    await eventually(() => a.status().busConnected && b.status().busConnected);
  });
  afterEach(async () => {
    await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown()]);
    await redis.stop();
  });

  const loader = (value: string) => async () => {
    await sleep(10);
    return value;
  };

  async function timedCalls(cache: CacheService, count: number): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      expect(await cache.getOrSet(cacheKey('fault', `${Date.now()}-${i}`), loader('v'), { ttl: '1m' })).toBe('v');
      times.push(performance.now() - started);
    }
    return times;
  }

  it('SIGKILL: calls stay within timeout + loader time, the breaker opens, and recovery needs no restart', async () => {
    await a.getOrSet(cacheKey('fault', 'warm'), loader('warm'), { ttl: '1m' });
    await redis.kill();
    const times = await timedCalls(a, 10);
    // Each call pays at most the command timeout (twice: GET, then SET) plus the 10 ms loader, with slack.
    expect(Math.max(...times)).toBeLessThan(2 * TIMEOUT + 10 + SLACK_MS);
    expect(a.status().breaker).not.toBe('closed');
    expect(a.status().degraded).toBe(true);
    // L1 still answers while Redis is gone.
    expect(await a.fetch(cacheKey('fault', 'warm'), loader('reloaded'), { ttl: '1m' })).toMatchObject({ source: 'l1' });

    await redis.spawn();
    await eventually(() => a.status().redisReady && b.status().redisReady, 10_000);
    let attempt = 0;
    await eventually(async () => {
      const key = cacheKey('fault', `after-${++attempt}`);
      await a.set(key, 'back', { ttl: '1m' });
      return (await b.fetch(key, loader('x'), { ttl: '1m' })).source === 'l2';
    }, 10_000);
    expect(a.status()).toMatchObject({ breaker: 'closed', degraded: false });
  });

  it('SIGSTOP: a frozen Redis costs at most the command timeout, then nothing while the breaker is open', async () => {
    redis.freeze();
    // Unguarded, a call would wait for as long as Redis stays frozen.
    const times = await timedCalls(a, 8);
    expect(Math.max(...times)).toBeLessThan(2 * TIMEOUT + 10 + SLACK_MS);
    // Once open, calls skip Redis instead of waiting for it: every call begun with the breaker open is counted as
    // skipped and sends nothing.
    const skipped = () => a.metrics.redisErrors.get('skipped') ?? 0;
    let whileOpen = 0;
    for (let i = 0; i < 20 && whileOpen < 3; i++) {
      const open = a.status().breaker === 'open';
      const before = skipped();
      await timedCalls(a, 1);
      if (open) {
        whileOpen++;
        expect(skipped()).toBeGreaterThan(before);
      }
    }
    expect(whileOpen).toBe(3);
    redis.thaw();
    await eventually(async () => {
      await a.getOrSet(cacheKey('fault', `probe-${Date.now()}`), loader('v'), { ttl: '1m' });
      return a.status().breaker === 'closed';
    }, 10_000);
  });

  it('replaces connections whose peer went silent: commands recover, and the bus reconnects and clears L1', async () => {
    // Through the proxy, the open connections go silent without closing (a host gone without a word); TCP
    // itself would take hours to notice, and ioredis only reconnects when the socket closes.
    const proxy = await TcpProxy.start('127.0.0.1', redis.port);
    const c = cacheInstance(`redis://127.0.0.1:${proxy.port}`, {
      commandTimeoutMs: TIMEOUT,
      breaker: { failureThreshold: 3, openMs: 300 },
      busHeartbeat: 200,
    });
    try {
      await eventually(() => c.status().redisReady && c.status().busConnected);
      const key = cacheKey('fault', 'silent');
      expect(await c.getOrSet(key, loader('v1'), { ttl: '1m' })).toBe('v1');
      const reconnects = c.metrics.busReconnects;
      proxy.blackhole();
      // Unanswered PINGs replace the bus connection (and what it may have missed goes with L1)…
      await eventually(() => c.metrics.busReconnects > reconnects && c.status().l1Entries === 0, 5_000);
      // …and commands that do nothing but time out replace the command connection: what the other instance
      // writes is read again (the probe keys make sure this instance keeps asking Redis meanwhile).
      await b.set(key, 'v2', { ttl: '1m' });
      await eventually(async () => {
        await c.get(cacheKey('fault', `probe-${Date.now()}`));
        return (await c.get(key)) === 'v2';
      }, 10_000);
      expect(c.metrics.redisErrors.get('stuck')).toBe(1);
    } finally {
      await c.onApplicationShutdown();
      await proxy.stop();
    }
  });

  it.each([
    // ioredis' own re-subscription after a reconnect (`autoResubscribe`) is a promise nobody catches: dropped
    // unanswered, it rejected as an unhandled rejection, which ends a Node process (and fails this test).
    ['closed', 'close' as const],
    // Silent, the bus stayed unsubscribed (the heartbeat only checks a subscription) until TCP noticed.
    ['silent', 'silence' as const],
  ])('a bus connection %s before its re-subscription is answered is replaced, and the bus works', async (_, how) => {
    const proxy = await TcpProxy.start('127.0.0.1', redis.port);
    const c = cacheInstance(`redis://127.0.0.1:${proxy.port}`, { commandTimeoutMs: TIMEOUT });
    const raw = redis.client();
    try {
      await eventually(() => c.status().redisReady && c.status().busConnected);
      const reconnects = c.metrics.busReconnects;
      const trapped = proxy.trapNext('\r\nsubscribe\r\n', how);
      await raw.client('KILL', 'TYPE', 'pubsub');
      await trapped;
      await eventually(() => c.status().busConnected && c.metrics.busReconnects > reconnects, 10_000);
      // The subscription carries messages: another instance's write drops this one's L1 copy, which nothing
      // else would (no tags, a TTL of a minute).
      const key = cacheKey('fault', `after-${how}`);
      expect(await c.getOrSet(key, loader('v1'), { ttl: '1m' })).toBe('v1');
      expect((await c.fetch(key, loader('v1'), { ttl: '1m' })).source).toBe('l1');
      await b.set(key, 'v2', { ttl: '1m' });
      await eventually(async () => (await c.get(key)) === 'v2', 1_000);
    } finally {
      raw.disconnect();
      await c.onApplicationShutdown();
      await proxy.stop();
    }
  });

  it('an ACL that refuses PUBLISH costs the bus, never the data: writes stay, a tag is bumped once, nothing waits', async () => {
    // Redis 7 gives a new ACL user no channels (acl-pubsub-default resetchannels): every data command, no PUBLISH.
    const raw = redis.client();
    await raw.call('ACL', 'SETUSER', 'app', 'on', '>app-password', '~*', '+@all');
    raw.disconnect();
    const c = cacheInstance(`redis://app:app-password@127.0.0.1:${redis.port}`, { breaker: { failureThreshold: 3, openMs: 100 } });
    const check = redis.client();
    try {
      await eventually(() => c.status().redisReady);
      const key = cacheKey('fault', 'acl');
      await c.set(key, 'v1', { ttl: '1m' });
      await c.invalidateTags(['fault:acl']);
      // The messages are tried again a few times, then given up; the DEL or bump is never repeated.
      await eventually(() => c.status().pendingInvalidations === 0, 3_000);
      const [v, origin] = await check.hmget(tagKeyOf(c, 'fault:acl'), 'v', 'o');
      expect(Number(v) - Number(origin)).toBe(1);
      expect(await c.get(key)).toBe('v1');
      expect((await check.getBuffer(c.keyOf(key)))?.toString()).toMatch(/\n"v1"$/);
      expect(c.status().breaker).toBe('closed');
    } finally {
      check.disconnect();
      await c.onApplicationShutdown();
    }
  });

  it('a SET that timed out is never re-sent after a reconnect, so it cannot land after a later DEL (ioredis #2130)', async () => {
    const key = 'test:c1:fault:set-then-del';
    const log = new RateLimitedLogger(new Logger('test'), 60_000);
    const client = createRedisClient({ url: redis.url }, TIMEOUT, 'commands');
    const tier = new RedisTier(client, new CacheMetrics(), log, { failureThreshold: 100, openMs: 1_000 }, TIMEOUT + 50, () => undefined);
    await eventually(() => client.status === 'ready');
    redis.freeze();
    // The SET reaches the socket, then times out: the caller moves on believing it failed.
    expect(await tier.set(key, Buffer.from('stale'), 60_000)).toBe(UNAVAILABLE);
    // The connection breaks; meanwhile another instance deletes the key.
    await redis.kill();
    await redis.spawn();
    const raw = redis.client();
    await raw.del(key);
    // This client reconnects. With ioredis defaults it would now re-send the unfulfilled SET.
    await eventually(() => client.status === 'ready', 10_000);
    await sleep(300);
    expect(await raw.exists(key)).toBe(0);
    raw.disconnect();
    client.disconnect();
  });

  it('replays a tag invalidation that could not reach Redis, so other instances stop serving the old value', async () => {
    let version = 1;
    const key = cacheKey('fault', 'replay');
    await b.getOrSet(key, async () => version, { ttl: '1m', tags: ['replayed'] });
    redis.freeze();
    version = 2;
    await a.invalidateTags(['replayed']);
    expect(a.status().pendingInvalidations).toBe(1);
    // This instance stops serving the old value at once.
    expect(await a.getOrSet(key, async () => version, { ttl: '1m', tags: ['replayed'] })).toBe(2);
    redis.thaw();
    await eventually(() => a.status().pendingInvalidations === 0, 10_000);
    await eventually(async () => (await b.getOrSet(key, async () => version, { ttl: '1m', tags: ['replayed'] })) === 2, 5_000);
  });
});
