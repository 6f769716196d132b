import { Logger } from '@nestjs/common';
import { CacheService, cacheKey } from '../../src/cache';
import type { CachePolicy } from '../../src/cache';
import { OwnSentinelGroup } from '../support/redis-sentinel';
import { cacheInstance, eventually, tagKeyOf } from './support';

/**
 * The cache engine behind Redis Sentinel (REDIS_SENTINELS): a master, a replica and a sentinel of the suite's own.
 * The cache finds the master through Sentinel and follows a failover as soon as Sentinel announces it.
 */
describe('cache engine behind Redis Sentinel', () => {
  let group: OwnSentinelGroup;
  let a: CacheService;
  let b: CacheService;
  let warnings: string[];

  const instance = () =>
    cacheInstance(null, {
      redis: { sentinel: { sentinels: group.sentinels, name: OwnSentinelGroup.NAME } },
      commandTimeoutMs: 1_000,
    });
  const ready = (c: CacheService) => c.status().redisReady && c.status().busConnected;

  beforeAll(async () => {
    group = await OwnSentinelGroup.start();
  }, 60_000);
  afterAll(() => group?.stop());

  beforeEach(async () => {
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
    a = instance();
    b = instance();
    await eventually(() => ready(a) && ready(b), 10_000);
  });
  afterEach(async () => {
    await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown()]);
    jest.restoreAllMocks();
  });

  it('finds the master through Sentinel: one load, the other instance hits L2, the bytes are on the master', async () => {
    const key = cacheKey('sn-things', 1);
    let loads = 0;
    const loader = async () => ({ n: ++loads });
    const stored = await a.fetch(key, loader, { ttl: '1m' });
    expect(stored.source).toBe('miss');
    expect(await b.fetch(key, loader, { ttl: '1m' })).toMatchObject({ value: { n: 1 }, source: 'l2' });
    expect(loads).toBe(1);
    const master = group.client(await group.masterPort());
    try {
      expect((await master.getBuffer(a.keyOf(key)))!.equals(stored.envelope!.bytes)).toBe(true);
    } finally {
      master.disconnect();
    }
    expect(warnings).toEqual([]);
    expect(Object.fromEntries(a.metrics.redisErrors)).toEqual({});
  });

  it('follows a failover when Sentinel announces it, not seconds later when the old master steps down', async () => {
    const key = cacheKey('sn-failover', 1);
    const policy: CachePolicy = { ttl: '1m', tags: ['group:failover'] };
    let version = 1;
    const loader = async () => version;
    await a.getOrSet(key, loader, policy);
    expect(await b.fetch(key, loader, policy)).toMatchObject({ value: 1, source: 'l2' });
    expect(await b.fetch(key, loader, policy)).toMatchObject({ value: 1, source: 'l1' });
    const reconnectsBefore = b.metrics.busReconnects;

    const { from, to } = await group.failover();
    // The old master still says `master` and takes writes until Sentinel tells it to follow (its next look, up to
    // 10 s on): an instance still on it would write where nobody reads, and its invalidations would reach no one.
    const onNew = group.client(to);
    try {
      const fresh = cacheKey('sn-failover', 2);
      await eventually(async () => {
        await a.set(fresh, 'after', { ttl: '1m' });
        return (await onNew.exists(a.keyOf(fresh))) === 1;
      }, 6_000);
      // Not vacuous: the old master had not stepped down yet, so only the announcement can have moved a.
      expect(await group.role(from)).toBe('master');
      await eventually(() => ready(a) && ready(b) && b.metrics.busReconnects > reconnectsBefore, 3_000);

      // b's bus moved too (and b dropped its L1, which may have missed messages meanwhile): it hears a's invalidation.
      version = 2;
      await a.invalidateTags(['group:failover']);
      await eventually(async () => (await b.getOrSet(key, loader, policy)) === 2, 1_000);
      expect(await b.fetch(fresh, async () => 'not loaded', { ttl: '1m' })).toMatchObject({ value: 'after', source: 'l2' });
    } finally {
      onNew.disconnect();
    }
  });

  it('makes again on the new master the invalidations made just before a failover (a lagging replica may lack them)', async () => {
    const tag = 'group:redo';
    await a.getOrSet(cacheKey('sn-redo', 1), async () => 1, { ttl: '1m', tags: [tag] });
    await a.invalidateTags([tag]);
    const tagKey = tagKeyOf(a, tag);
    const master = await group.masterPort();
    const onOld = group.client(master);
    const bumped = Number(await onOld.hget(tagKey, 'v'));
    onOld.disconnect();
    // The replica holds the bump before the failover (the previous test's old master may still be joining as a
    // replica): so the version on the new master can only have moved by a redo.
    const onNew = group.client(group.servers.find((s) => s.port !== master)!.port);
    try {
      await eventually(async () => Number(await onNew.hget(tagKey, 'v')) === bumped, 15_000);
      const before = a.metrics.invalidationsRedone;
      await group.failover();
      await eventually(async () => Number(await onNew.hget(tagKey, 'v')) > bumped, 6_000);
      await eventually(() => a.metrics.invalidationsRedone >= before + 1);
      expect(b.metrics.invalidationsRedone).toBe(0);
    } finally {
      onNew.disconnect();
    }
  });
});
