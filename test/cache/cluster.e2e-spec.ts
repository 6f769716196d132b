import { Logger } from '@nestjs/common';
import calculateSlot from 'cluster-key-slot';
import { CacheService, cacheKey } from '../../src/cache';
import type { CacheKey, CachePolicy } from '../../src/cache';
import { OwnRedisCluster } from '../support/redis-cluster';
import { cacheInstance, eventually, sleep } from './support';

/**
 * The cache engine on a real 3-master Redis Cluster the suite builds and tears down: every multi-key operation
 * touches keys that hash to different slots (and masters), which a single Redis never shows.
 */
describe('cache engine on a real Redis Cluster', () => {
  let cluster: OwnRedisCluster;
  let ownerOf: (slot: number) => number;
  let a: CacheService;
  let b: CacheService;
  let warnings: string[];
  /** Warnings a scenario causes on purpose (a dropped connection is worth a warning). */
  let expectedWarnings: RegExp | null;

  const slotOf = (key: CacheKey) => calculateSlot(a.keyOf(key));
  const mastersOf = (keys: CacheKey[]) => new Set(keys.map((k) => ownerOf(slotOf(k))));
  const instance = () =>
    cacheInstance(null, { redis: { cluster: { nodes: cluster.nodes } }, commandTimeoutMs: 1_000 });

  beforeAll(async () => {
    cluster = await OwnRedisCluster.start({ masters: 3, lifetimeMs: 120_000 });
    ownerOf = await cluster.slotOwners();
    await cluster.resetStats();
  }, 60_000);
  afterAll(() => cluster?.stop());

  beforeEach(async () => {
    await cluster.flushAll();
    warnings = [];
    expectedWarnings = null;
    jest
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((message: unknown) => void warnings.push(String(message)));
    jest
      .spyOn(Logger.prototype, 'error')
      .mockImplementation((message: unknown) => void warnings.push(String(message)));
    a = instance();
    b = instance();
    await eventually(() => [a, b].every((c) => c.status().redisReady && c.status().busConnected), 10_000);
  });

  afterEach(async () => {
    try {
      // A healthy cluster must cost the cache nothing: no failed command of any kind (CROSSSLOT would be
      // 'command'), no warning in its logs.
      expect({
        a: Object.fromEntries(a.metrics.redisErrors),
        b: Object.fromEntries(b.metrics.redisErrors),
      }).toEqual({ a: {}, b: {} });
      expect(warnings.filter((w) => !expectedWarnings?.test(w))).toEqual([]);
    } finally {
      await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown()]);
      // The logger stays muted until the bus connections have closed: a clean shutdown still warns about them.
      await eventually(() => !a.status().busConnected && !b.status().busConnected, 2_000);
      jest.restoreAllMocks();
    }
  });

  it('loads once; the other instance hits L2 on whichever master owns the key', async () => {
    const keys = Array.from({ length: 9 }, (_, i) => cacheKey('cl-things', i));
    expect(mastersOf(keys).size).toBe(3);
    let loads = 0;
    const loader = async () => ({ n: ++loads });
    const raw = cluster.client();
    try {
      for (const key of keys) {
        const stored = await a.fetch(key, loader, { ttl: '1m' });
        expect(stored.source).toBe('miss');
        expect(await b.fetch(key, loader, { ttl: '1m' })).toMatchObject({
          value: stored.value,
          source: 'l2',
        });
        expect(await b.fetch(key, loader, { ttl: '1m' })).toMatchObject({
          value: stored.value,
          source: 'l1',
        });
        expect((await raw.getBuffer(a.keyOf(key)))!.equals(stored.envelope!.bytes)).toBe(true);
      }
    } finally {
      raw.disconnect();
    }
    expect(loads).toBe(keys.length);
    expect(b.metrics.count('cl-things', 'l2', 'hit')).toBe(keys.length);
  });

  it('invalidates a tag whose entries live on different slots; the other instance hears it on the bus', async () => {
    const tagged = Array.from({ length: 12 }, (_, i) => cacheKey('cl-tagged', i));
    const control = cacheKey('cl-tagged', 'control');
    expect(new Set(tagged.map(slotOf)).size).toBe(tagged.length);
    expect(mastersOf(tagged).size).toBe(3);
    let version = 1;
    const policy: CachePolicy = { ttl: '1m', tags: ['group:x'] };
    const loader = async () => version;
    for (const key of tagged) {
      await a.getOrSet(key, loader, policy);
      expect(await b.fetch(key, loader, policy)).toMatchObject({ value: 1, source: 'l2' });
    }
    await b.getOrSet(control, loader, { ttl: '1m', tags: ['group:y'] });

    version = 2;
    const heard = b.metrics.busMessagesIn;
    await a.invalidateTags(['group:x']);
    // b holds every entry in L1 and trusts its tag versions while the bus is up: only the bus can make it reload.
    await eventually(async () => {
      const values = await Promise.all(tagged.map((key) => b.getOrSet(key, loader, policy)));
      return values.every((v) => v === 2);
    }, 1_000);
    expect(b.metrics.busMessagesIn).toBeGreaterThan(heard);
    expect(await b.fetch(control, loader, { ttl: '1m', tags: ['group:y'] })).toMatchObject({
      value: 1,
      source: 'l1',
    });
    for (const key of tagged) {
      expect(await a.getOrSet(key, loader, policy)).toBe(2);
    }
  });

  it('clears a namespace spread over all masters; the other instance hears it on the bus', async () => {
    const cleared = Array.from({ length: 12 }, (_, i) => cacheKey('cl-ns-a', i));
    const kept = Array.from({ length: 6 }, (_, i) => cacheKey('cl-ns-b', i));
    expect(mastersOf(cleared).size).toBe(3);
    let version = 1;
    const loader = async () => version;
    for (const key of [...cleared, ...kept]) {
      await a.getOrSet(key, loader, { ttl: '1m' });
      expect(await b.fetch(key, loader, { ttl: '1m' })).toMatchObject({ source: 'l2' });
    }

    version = 2;
    await a.clearNamespace('cl-ns-a');
    await eventually(async () => {
      const values = await Promise.all(cleared.map((key) => b.getOrSet(key, loader, { ttl: '1m' })));
      return values.every((v) => v === 2);
    }, 1_000);
    for (const key of kept) {
      expect(await b.fetch(key, loader, { ttl: '1m' })).toMatchObject({ value: 1, source: 'l1' });
      expect(await a.fetch(key, loader, { ttl: '1m' })).toMatchObject({ value: 1, source: 'l1' });
    }
  });

  it('getMany over keys on every master: one MGET per slot, only the missing loaded, the other’s writes found', async () => {
    const base = Array.from({ length: 30 }, (_, i) => i);
    // Six more keys that share a slot with one of the first six, so some per-slot MGETs carry two keys.
    const twins = base.slice(0, 6).map((i) => twinOf(a, 'cl-batch', i));
    const keys = [...base, ...twins].map((part) => cacheKey('cl-batch', part));
    const role = (i: number) => (['other', 'own', 'missing'] as const)[i % 3];
    expect(mastersOf(keys).size).toBe(3);
    expect(slotOf(keys[30])).toBe(slotOf(keys[0]));

    for (const [i, key] of keys.entries()) {
      if (role(i) === 'other') {
        await b.set(key, `b ${i}`, { ttl: '1m' });
      } else if (role(i) === 'own') {
        await a.set(key, `a ${i}`, { ttl: '1m' });
      }
    }
    const viaRedis = keys.map((_, i) => i).filter((i) => role(i) !== 'own');
    const expectedMgets = new Set(viaRedis.map((i) => slotOf(keys[i]))).size;
    expect(expectedMgets).toBeLessThan(viaRedis.length);

    const before = (await cluster.commandCalls()).get('mget') ?? 0;
    const asked: number[][] = [];
    const values = await a.getMany(
      keys,
      async (indexes) => {
        asked.push(indexes);
        return indexes.map((i) => `loaded ${i}`);
      },
      { ttl: '1m' },
    );
    const mgets = ((await cluster.commandCalls()).get('mget') ?? 0) - before;

    expect(values).toEqual(
      keys.map((_, i) => ({ other: `b ${i}`, own: `a ${i}`, missing: `loaded ${i}` })[role(i)]),
    );
    expect(asked).toEqual([keys.map((_, i) => i).filter((i) => role(i) === 'missing')]);
    expect(mgets).toBe(expectedMgets);
    expect(a.metrics.count('cl-batch', 'l2', 'hit')).toBe(viaRedis.length - asked[0].length);
    for (const i of asked[0]) {
      expect(await b.fetch(keys[i], async () => 'not stored', { ttl: '1m' })).toMatchObject({
        value: `loaded ${i}`,
        source: 'l2',
      });
    }
  });

  it('reads of keys on every master, batched while a read is out: one MGET per slot, each its own value', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => cacheKey('cl-batched', i));
    expect(mastersOf(keys).size).toBe(3);
    for (const [i, key] of keys.entries()) {
      await b.set(key, { i }, { ttl: '1m' });
    }
    const before = await cluster.commandCalls();
    // The first read goes at once (GET); the others arrive while it is out and go at the end of this turn.
    const values = await Promise.all(keys.map((key) => a.get(key)));
    const after = await cluster.commandCalls();
    const sent = (command: string) => (after.get(command) ?? 0) - (before.get(command) ?? 0);

    expect(values).toEqual(keys.map((_, i) => ({ i })));
    expect(sent('get')).toBe(1);
    expect(sent('mget')).toBe(new Set(keys.slice(1).map(slotOf)).size);
    expect(a.metrics.count('cl-batched', 'l2', 'hit')).toBe(keys.length);
  });

  it('deletes many keys across slots, in Redis and and, over the bus, in the other instance’s L1', async () => {
    const removed = Array.from({ length: 40 }, (_, i) => cacheKey('cl-del', i));
    const expired = Array.from({ length: 12 }, (_, i) => cacheKey('cl-expire', i));
    expect(mastersOf(removed).size).toBe(3);
    expect(mastersOf(expired).size).toBe(3);
    const policy: CachePolicy = { ttl: '1m', grace: '1m' };
    for (const key of [...removed, ...expired]) {
      await a.set(key, 'old', policy);
      expect(await b.fetch(key, async () => 'unused', policy)).toMatchObject({ value: 'old', source: 'l2' });
    }

    await a.delete(removed);
    await a.delete(expired, 'expire');
    await eventually(async () => {
      const values = await Promise.all([...removed, ...expired].map((key) => b.get(key)));
      return values.every((v) => v === undefined);
    }, 1_000);

    const raw = cluster.client();
    try {
      const exists = async (keys: CacheKey[]) => Promise.all(keys.map((k) => raw.exists(a.keyOf(k))));
      expect(await exists(removed)).toEqual(removed.map(() => 0));
      // `expire` keeps the entries as fallbacks: still in Redis with their TTL, served only if reloading fails.
      expect(await exists(expired)).toEqual(expired.map(() => 1));
      expect(await raw.pttl(a.keyOf(expired[0]))).toBeGreaterThan(60_000);
    } finally {
      raw.disconnect();
    }
    const failing = async (): Promise<string> => {
      throw new Error('database down');
    };
    expectedWarnings = /^Serving stale cl-expire entry: its loader failed/;
    expect(await b.fetch(expired[0], failing, policy)).toMatchObject({ value: 'old', source: 'stale' });
    expect(await b.fetch(expired[0], async () => 'new', policy)).toMatchObject({ value: 'new', source: 'miss' });
  });

  it('with a lease on another slot than its entry, runs the loader once across two instances', async () => {
    const key = cacheKey('cl-lease', 1);
    expect(calculateSlot(`${a.keyOf(key)}:lease`)).not.toBe(slotOf(key));
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(100);
      return 'v';
    };
    const calls = Array.from({ length: 200 }, (_, i) =>
      (i % 2 ? a : b).getOrSet(key, loader, { ttl: '1m', lease: '2s' }),
    );
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['v']));
    expect(loads).toBe(1);
  });

  it('serves no stale data after an invalidation published while its bus subscription was down', async () => {
    expectedWarnings = /^Cache bus (connection lost|error)|^Cleared L1: the bus reconnected/;
    const key = cacheKey('cl-reconnect', 1);
    let version = 1;
    const policy: CachePolicy = { ttl: '1m', tags: ['group:reconnect'] };
    const loader = async () => version;
    await a.getOrSet(key, loader, policy);
    expect(await b.fetch(key, loader, policy)).toMatchObject({ value: 1, source: 'l2' });
    expect(await b.fetch(key, loader, policy)).toMatchObject({ value: 1, source: 'l1' });
    // a opens a connection to every master now, so it can still write and publish while new ones are refused.
    const spread = Array.from({ length: 9 }, (_, i) => cacheKey('cl-reconnect', 'warm', i));
    expect(mastersOf(spread).size).toBe(3);
    await Promise.all(spread.map((k) => a.get(k)));

    version = 2;
    await cluster.refusingNewConnections(async () => {
      // Every subscriber connection (a's and b's) drops and cannot come back until the invalidation is published.
      await cluster.onEachNode((node) => node.client('KILL', 'TYPE', 'pubsub'));
      await a.invalidateTags(['group:reconnect']);
    });

    // b missed the message: only knowing that its subscription was interrupted (and dropping L1) saves it.
    await eventually(async () => (await b.getOrSet(key, loader, policy)) === 2, 3_000);
    // The new value may come first from re-reading the tag versions (trusted only while the bus is up); the
    // subscription itself comes back with the reconnect backoff.
    await eventually(() => b.status().busConnected, 5_000);
  });

  it('clears its L1 when its bus subscription drops and comes back', async () => {
    expectedWarnings = /^Cache bus connection lost|^Cleared L1: the bus reconnected/;
    await b.getOrSet(cacheKey('cl-reconnect', 2), async () => 'cached', { ttl: '1m' });
    expect(b.status().l1Entries).toBeGreaterThan(0);
    await cluster.onEachNode((node) => node.client('KILL', 'TYPE', 'pubsub'));
    await eventually(() => b.status().l1Entries === 0 && b.status().busConnected, 3_000);
    expect(b.metrics.busReconnects).toBeGreaterThanOrEqual(1);
  });

  it('before its cluster client is ready, refuses commands at once and never sends them later', async () => {
    expectedWarnings = /^Redis GET failed \(connection\)|^Cache bus error: NOAUTH|^Redis connection: Failed to refresh/;
    const key = cacheKey('cl-early', 1);
    const getsBefore = (await cluster.commandCalls()).get('get') ?? 0;
    let c: CacheService | null = null;
    try {
      const answer = await cluster.refusingNewConnections(async () => {
        c = instance();
        await sleep(100);
        expect(c.status().redisReady).toBe(false);
        return c.get(key);
      });
      expect(answer).toBeUndefined();
      // Refused, not queued: a queued GET would have run into the guard's timeout instead.
      expect(Object.fromEntries(c!.metrics.redisErrors)).toEqual({ connection: 1 });
      await eventually(() => c!.status().redisReady, 5_000);
      await sleep(200);
      expect((await cluster.commandCalls()).get('get') ?? 0).toBe(getsBefore);
    } finally {
      await (c as CacheService | null)?.onApplicationShutdown();
    }
  });

  // Last: the counters cover every command the scenarios above sent.
  it('never sent KEYS, never drew CROSSSLOT or a redirection from any node', async () => {
    const calls = await cluster.commandCalls();
    const errors = await cluster.errorCounts();
    expect(calls.get('keys')).toBeUndefined();
    expect(calls.get('scan')).toBeUndefined();
    expect(errors.get('CROSSSLOT')).toBeUndefined();
    expect(errors.get('MOVED')).toBeUndefined();
    expect(errors.get('ASK')).toBeUndefined();
    // Not vacuous: every kind of command the engine sends was counted.
    calls.set('eval', (calls.get('eval') ?? 0) + (calls.get('evalsha') ?? 0));
    const unseen = ['get', 'set', 'mget', 'del', 'hmget', 'eval', 'publish'].filter((c) => !calls.get(c));
    expect(unseen).toEqual([]);
  });
});

/** An integer key part, from 1000 on, whose full key hashes to the same slot as `part`'s. */
function twinOf(cache: CacheService, namespace: string, part: number): number {
  const slot = calculateSlot(cache.keyOf(cacheKey(namespace, part)));
  for (let candidate = 1_000; ; candidate++) {
    if (calculateSlot(cache.keyOf(cacheKey(namespace, candidate))) === slot) {
      return candidate;
    }
  }
}
