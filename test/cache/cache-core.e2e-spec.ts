import { CacheKey, CacheLoadTimeoutError, CachePolicy, CacheService, cacheKey } from '../../src/cache';
import { OwnRedis } from '../support/redis-server';
import { SLACK_MS, cacheInstance, eventually, sleep, tagKeyOf } from './support';

/** A slow loader: three times the slack, so a call that waited for it cannot pass for one that did not. */
const LOADER_MS = 3 * SLACK_MS;

describe('cache engine on a real Redis', () => {
  jest.setTimeout(20_000);
  let redis: OwnRedis;
  let a: CacheService;
  let b: CacheService;

  beforeAll(async () => {
    redis = await OwnRedis.start();
  });
  beforeEach(async () => {
    const raw = redis.client();
    await raw.flushall();
    raw.disconnect();
    a = cacheInstance(redis.url);
    b = cacheInstance(redis.url);
    await eventually(() => a.status().busConnected && b.status().busConnected);
  });
  afterEach(async () => {
    await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown()]);
  });
  afterAll(() => redis.stop());

  it('misses, loads once, then hits L1; another instance hits L2', async () => {
    const key = cacheKey('things', 1);
    let loads = 0;
    const loader = async () => ({ n: ++loads });
    expect(await a.fetch(key, loader, { ttl: '1m' })).toMatchObject({ value: { n: 1 }, source: 'miss' });
    expect(await a.fetch(key, loader, { ttl: '1m' })).toMatchObject({ value: { n: 1 }, source: 'l1' });
    expect(await b.fetch(key, loader, { ttl: '1m' })).toMatchObject({ value: { n: 1 }, source: 'l2' });
    expect(await b.fetch(key, loader, { ttl: '1m' })).toMatchObject({ source: 'l1' });
    expect(loads).toBe(1);
    expect(a.metrics.count('things', 'l1', 'hit')).toBe(1);
    expect(a.metrics.count('things', 'none', 'miss')).toBe(1);
  });

  it('stores the same envelope bytes in Redis that L1 holds', async () => {
    const key = cacheKey('things', 'bytes');
    const result = await a.fetch(key, async () => ({ hello: 'world' }), { ttl: '1m' });
    const raw = redis.client();
    const stored = await raw.getBuffer(a.keyOf(key));
    raw.disconnect();
    expect(stored!.equals(result.envelope!.bytes)).toBe(true);
    expect(result.envelope!.payload.toString()).toBe('{"hello":"world"}');
  });

  it('with compress, stores big entries deflated in Redis; every read path gets the very same envelope back', async () => {
    const page = {
      items: Array.from({ length: 40 }, (_, i) => ({ id: `image-${i}`, url: `https://cdn.example/images/${i}.png`, nsfw: false })),
    };
    const key = cacheKey('zipped', 'page');
    const small = cacheKey('zipped', 'small');
    const policy = { ttl: '1m', grace: '1m', compress: true } as const;
    const written = await a.fetch(key, async () => page, policy);
    await a.set(small, { id: 1 }, policy);

    const raw = redis.client();
    try {
      const stored = (await raw.getBuffer(a.keyOf(key)))!;
      expect(stored.subarray(0, 2)).toEqual(Buffer.from([0x00, 0x5a]));
      expect(stored.length).toBeLessThan(written.envelope!.bytes.length / 2);
      // Under the 1 KB threshold: stored as it is.
      expect((await raw.getBuffer(a.keyOf(small)))!.equals((await a.fetch(small, async () => null, policy)).envelope!.bytes)).toBe(true);

      // A read by the other instance (GET), a batch read (MGET): the same bytes, hash (ETag) and value.
      const read = await b.fetch(key, async () => 'not loaded', policy);
      expect(read).toMatchObject({ source: 'l2', value: page });
      expect(read.envelope!.bytes.equals(written.envelope!.bytes)).toBe(true);
      const c = cacheInstance(redis.url);
      try {
        await eventually(() => c.status().redisReady);
        expect(await c.getMany([key, small], async () => ['not loaded', 'not loaded'], policy)).toEqual([page, { id: 1 }]);
      } finally {
        await c.onApplicationShutdown();
      }

      // The expire mode rewrites the entry in Redis: still compressed, still readable as a fallback.
      await a.delete([key], 'expire');
      const expired = (await raw.getBuffer(a.keyOf(key)))!;
      expect(expired.subarray(0, 2)).toEqual(Buffer.from([0x00, 0x5a]));
      const d = cacheInstance(redis.url);
      try {
        await eventually(() => d.status().redisReady);
        const failing = async (): Promise<string> => {
          throw new Error('database down');
        };
        expect(await d.fetch(key, failing, policy)).toMatchObject({ source: 'stale', value: page });
      } finally {
        await d.onApplicationShutdown();
      }
    } finally {
      raw.disconnect();
    }
  });

  /** After an invalidation: `b` (once the bus told it) and a new instance with no L1 load and read `row`. */
  async function readsEverywhere(key: CacheKey, row: string, policy: CachePolicy): Promise<void> {
    await eventually(async () => (await b.getOrSet(key, async () => row, policy)) === row, 1_000);
    const c = cacheInstance(redis.url, { l1MaxBytes: 0 });
    try {
      expect(await c.getOrSet(key, async () => row, policy)).toBe(row);
    } finally {
      await c.onApplicationShutdown();
    }
  }

  it('a tag key that expired and started again from 0 still invalidates, on every instance', async () => {
    const tag = 'reborn:1';
    const key = cacheKey('reborn', 1);
    // Versions 1..3, known to both instances (b by the bus).
    for (let i = 0; i < 3; i++) {
      await a.invalidateTags([tag]);
    }
    await eventually(() => b.metrics.busMessagesIn >= 3);
    // The tag's key expires in Redis (idle past its TTL; deleted here to stand for that). b still remembers 3.
    const raw = redis.client();
    await raw.del(tagKeyOf(a, tag));
    let row = 'old';
    const policy = { ttl: '1m', tags: [tag] } as const;
    expect(await b.getOrSet(key, async () => row, policy)).toBe('old');
    // A write, invalidating the tag: a new key, counting from Redis' clock (b stamped the entry with it too).
    row = 'new';
    await a.invalidateTags([tag]);
    expect(Number(await raw.hget(tagKeyOf(a, tag), 'v'))).toBeGreaterThan(3);
    raw.disconnect();
    await readsEverywhere(key, row, policy);
  });

  it('a tag key lost while entries stamped with it live (evicted under maxmemory) still invalidates them', async () => {
    const tag = 'evicted:1';
    const key = cacheKey('evicted', 1);
    const policy = { ttl: '1m', tags: [tag] } as const;
    let row = 'old';
    await a.invalidateTags([tag]);
    // Stamped with the tag's current version, in both instances' L1 and in Redis.
    expect(await a.getOrSet(key, async () => row, policy)).toBe('old');
    expect(await b.fetch(key, async () => row, policy)).toMatchObject({ value: 'old', source: 'l2' });
    expect(await b.fetch(key, async () => row, policy)).toMatchObject({ value: 'old', source: 'l1' });
    // Redis drops the idle tag key and keeps the entry (what allkeys-lru does to a key nobody reads).
    const raw = redis.client();
    expect(await raw.del(tagKeyOf(a, tag))).toBe(1);
    // A write: the bump makes the tag key again.
    row = 'new';
    await a.invalidateTags([tag]);
    raw.disconnect();
    expect(await a.getOrSet(key, async () => row, policy)).toBe('new');
    await readsEverywhere(key, row, policy);
  });

  it('a tag key lost after a write: an instance that knows nothing of the tag does not serve what the write invalidated', async () => {
    const tag = 'evicted:2';
    const key = cacheKey('evicted', 2);
    const policy = { ttl: '1m', tags: [tag] } as const;
    let row = 'old';
    expect(await a.getOrSet(key, async () => row, policy)).toBe('old');
    // A write: the entry in Redis is invalidated by the tag's version alone…
    row = 'new';
    await a.invalidateTags([tag]);
    // …until Redis drops the tag key. A new instance (a pod that just started, or one whose bus reconnected and
    // forgot every version) then finds no version at all for the tag.
    const raw = redis.client();
    expect(await raw.del(tagKeyOf(a, tag))).toBe(1);
    raw.disconnect();
    const newcomer = cacheInstance(redis.url);
    try {
      await eventually(() => newcomer.status().redisReady);
      expect(await newcomer.fetch(key, async () => row, policy)).toMatchObject({ value: 'new', source: 'miss' });
    } finally {
      await newcomer.onApplicationShutdown();
    }
  });

  it('expires entries after their TTL', async () => {
    const key = cacheKey('things', 'ttl');
    let loads = 0;
    await a.getOrSet(key, async () => ++loads, { ttl: 100, jitter: 0 });
    await sleep(150);
    expect(await a.getOrSet(key, async () => ++loads, { ttl: 100, jitter: 0 })).toBe(2);
  });

  it('spreads TTLs with jitter', async () => {
    const ttls = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const r = await a.fetch(cacheKey('jitter', i), async () => i, { ttl: 10_000 });
        return r.envelope!.header.f - r.envelope!.header.c;
      }),
    );
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(9_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(11_000);
    expect(new Set(ttls).size).toBeGreaterThan(20);
  });

  it('drops the other instance’s L1 copy when a delete is heard on the bus (its own TTL is a minute)', async () => {
    const key = cacheKey('things', 'bus');
    let version = 1;
    await b.getOrSet(key, async () => version, { ttl: '1m' });
    expect(await b.fetch(key, async () => version, { ttl: '1m' })).toMatchObject({ source: 'l1' });
    version = 2;
    await a.delete([key]);
    const heard = b.metrics.busMessagesIn;
    await eventually(async () => (await b.getOrSet(key, async () => version, { ttl: '1m' })) === 2, 1_000);
    expect(b.metrics.busMessagesIn).toBeGreaterThan(heard);
  });

  it('ignores its own bus messages: a set keeps its own L1 copy, and only the other instance hears it', async () => {
    const key = cacheKey('things', 'own-message');
    await a.set(key, { n: 1 }, { ttl: '1m' });
    await b.getOrSet(key, async () => ({ n: 0 }), { ttl: '1m' });
    const [ownHeard, otherHeard] = [a.metrics.busMessagesIn, b.metrics.busMessagesIn];
    await a.set(key, { n: 2 }, { ttl: '1m' });
    await eventually(() => b.metrics.busMessagesIn > otherHeard, 1_000);
    expect(a.metrics.busMessagesIn).toBe(ownHeard);
    expect(await a.fetch(key, async () => ({ n: -1 }), { ttl: '1m' })).toMatchObject({ source: 'l1', value: { n: 2 } });
    expect(await b.getOrSet(key, async () => ({ n: -1 }), { ttl: '1m' })).toEqual({ n: 2 });
  });

  it('invalidates every entry of a tag, on both instances, with Redis work that does not grow with the entries', async () => {
    let version = 1;
    const many = Array.from({ length: 200 }, (_, i) => cacheKey('tagged', i));
    for (const key of many) {
      await a.getOrSet(key, async () => version, { ttl: '1m', tags: ['group:many'] });
      await b.getOrSet(key, async () => version, { ttl: '1m', tags: ['group:many'] });
    }
    await a.getOrSet(cacheKey('tagged', 'single'), async () => version, { ttl: '1m', tags: ['group:one'] });
    const raw = redis.client();
    // Data commands only (inside scripts too): a connection's ready check (INFO) or a heartbeat (PING) may land
    // in the window from elsewhere.
    const commands = async () =>
      [...(await raw.info('commandstats')).matchAll(/cmdstat_(\w+):calls=(\d+)/g)]
        .filter(([, name]) => !['info', 'ping', 'client', 'hello', 'select'].includes(name))
        .reduce((sum, [, , calls]) => sum + Number(calls), 0);
    const costOf = async (tag: string) => {
      const before = await commands();
      await a.invalidateTags([tag]);
      return (await commands()) - before;
    };
    // The first bump also loads its script into Redis (EVALSHA answers NOSCRIPT, then EVAL): once per server.
    await a.invalidateTags(['group:unused']);
    version = 2;
    const forMany = await costOf('group:many');
    const forOne = await costOf('group:one');
    raw.disconnect();
    expect(forMany).toBe(forOne);
    await eventually(async () => (await b.getOrSet(many[0], async () => version, { ttl: '1m' })) === 2, 1_000);
    for (const key of many) {
      expect(await a.getOrSet(key, async () => version, { ttl: '1m', tags: ['group:many'] })).toBe(2);
      expect(await b.getOrSet(key, async () => version, { ttl: '1m', tags: ['group:many'] })).toBe(2);
    }
  });

  it('clears a namespace in O(1) without touching others', async () => {
    await a.getOrSet(cacheKey('ns-a', 1), async () => 'a', { ttl: '1m' });
    await a.getOrSet(cacheKey('ns-b', 1), async () => 'b', { ttl: '1m' });
    await a.clearNamespace('ns-a');
    expect(await a.get(cacheKey('ns-a', 1))).toBeUndefined();
    expect(await b.get(cacheKey('ns-a', 1))).toBeUndefined();
    expect(await a.get(cacheKey('ns-b', 1))).toBe('b');
  });

  it('runs the loader once for 500 concurrent misses of one key', async () => {
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(50);
      return 'v';
    };
    const results = await Promise.all(Array.from({ length: 500 }, () => a.getOrSet(cacheKey('stampede', 1), loader, { ttl: '1m' })));
    expect(results.every((r) => r === 'v')).toBe(true);
    expect(loads).toBe(1);
  });

  it('with a lease, runs the loader once across two instances', async () => {
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(100);
      return 'v';
    };
    const key = cacheKey('stampede', 'lease');
    const calls = Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).getOrSet(key, loader, { ttl: '1m', lease: '2s' }));
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['v']));
    expect(loads).toBe(1);
  });

  it('with a lease, a waiter loads as soon as the holder lets go without a value, not when the lease lapses', async () => {
    const key = cacheKey('stampede', 'lease-nothing');
    const policy = { ttl: '1m', lease: '10s' } as const;
    let loads = 0;
    // The holder's result is not cacheable (null without cacheNull), so nothing lands for the waiter to read.
    const holder = a.getOrSet(key, async () => {
      loads++;
      await sleep(50);
      return null;
    }, policy);
    await sleep(10);
    const started = Date.now();
    const waited = await b.getOrSet(key, async () => {
      loads++;
      return 'loaded by the waiter';
    }, policy);
    const tookMs = Date.now() - started;
    await holder;
    expect(waited).toBe('loaded by the waiter');
    expect(loads).toBe(2);
    // It used to poll until the 10 s lease ran out.
    expect(tookMs).toBeLessThan(3_000);
  });

  it('with a lease, a waiter takes the value the holder stored, and the holder lets go only after storing it', async () => {
    const key = cacheKey('stampede', 'lease-value');
    const policy = { ttl: '1m', lease: '10s' } as const;
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(80);
      return `value ${loads}`;
    };
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await sleep(i * 7);
        return (i % 2 ? a : b).getOrSet(key, loader, policy);
      }),
    );
    expect(new Set(results)).toEqual(new Set(['value 1']));
    expect(loads).toBe(1);
  });

  it('serves a stale entry in grace at once while one refresh runs', async () => {
    const key = cacheKey('grace', 1);
    let version = 1;
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(50);
      return version;
    };
    await a.getOrSet(key, loader, { ttl: 50, grace: '1m', jitter: 0 });
    await sleep(80);
    version = 2;
    // Staleness is the stored entry's (50 ms); the refresh stores under the callers' policy, a minute, so the
    // refreshed entry cannot go stale again (and load a third time) before the check below, on a slow machine.
    const results = await Promise.all(Array.from({ length: 10 }, () => a.fetch(key, loader, { ttl: '1m', grace: '1m' })));
    expect(results.map((r) => r.source)).toEqual(Array(10).fill('stale'));
    expect(results.map((r) => r.value)).toEqual(Array(10).fill(1));
    await eventually(async () => (await a.fetch(key, loader, { ttl: '1m', grace: '1m' })).value === 2);
    expect(loads).toBe(2);
  });

  it('falls back to the stale entry when the loader throws, and throws when there is none', async () => {
    const key = cacheKey('failsafe', 1);
    await a.getOrSet(key, async () => 'old', { ttl: 30, grace: '1m', jitter: 0 });
    await sleep(50);
    const failing = async (): Promise<string> => {
      throw new Error('database down');
    };
    const result = await a.fetch(key, failing, { ttl: 30, grace: '1m', softTimeout: '1s' });
    expect(result).toMatchObject({ value: 'old', source: 'stale' });
    await expect(a.getOrSet(cacheKey('failsafe', 'none'), failing, { ttl: '1m' })).rejects.toThrow('database down');
  });

  it('answers with the stale entry after the soft timeout, long before a slow loader ends', async () => {
    const key = cacheKey('soft', 1);
    await a.getOrSet(key, async () => 'old', { ttl: 30, grace: '1m', jitter: 0 });
    await sleep(50);
    const started = Date.now();
    const result = await a.fetch(key, async () => { await sleep(LOADER_MS); return 'new'; }, { ttl: '1m', grace: '1m', softTimeout: 50 });
    expect(result).toMatchObject({ value: 'old', source: 'stale' });
    expect(Date.now() - started).toBeLessThan(50 + SLACK_MS);
    await eventually(async () => (await a.get(key)) === 'new', LOADER_MS);
  });

  it('abandons the wait at the hard timeout when nothing stale exists', async () => {
    const started = Date.now();
    await expect(
      a.getOrSet(cacheKey('hard', 1), async () => { await sleep(LOADER_MS); return 1; }, { ttl: '1m', hardTimeout: 100 }),
    ).rejects.toThrow(/longer than 100 ms/);
    expect(Date.now() - started).toBeLessThan(100 + SLACK_MS);
  });

  it('caches null only when asked, and never undefined', async () => {
    let loads = 0;
    await a.getOrSet(cacheKey('nulls', 1), async () => (loads++, null), { ttl: '1m' });
    await a.getOrSet(cacheKey('nulls', 1), async () => (loads++, null), { ttl: '1m' });
    expect(loads).toBe(2);
    await a.getOrSet(cacheKey('nulls', 2), async () => (loads++, null), { ttl: '1m', cacheNull: '10s' });
    expect(await a.fetch(cacheKey('nulls', 2), async () => (loads++, null), { ttl: '1m', cacheNull: '10s' })).toMatchObject({ value: null, source: 'l1' });
    await a.getOrSet(cacheKey('nulls', 3), async () => (loads++, undefined), { ttl: '1m', cacheNull: true });
    await a.getOrSet(cacheKey('nulls', 3), async () => (loads++, undefined), { ttl: '1m', cacheNull: true });
    expect(loads).toBe(5);
  });

  it('does not store a value loaded across an invalidation of its key', async () => {
    const key = cacheKey('race', 1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pending = a.getOrSet(key, async () => { await gate; return 'read before the write'; }, { ttl: '1m' });
    await sleep(10);
    await b.delete([key]);
    await sleep(50);
    release();
    expect(await pending).toBe('read before the write');
    expect(await a.get(key)).toBeUndefined();
    expect(await b.get(key)).toBeUndefined();
  });

  it('takes what was stored while its Redis read was out, instead of loading a second time', async () => {
    // Answers of GET reach the cache only when `held` lets them: the read below leaves before the set and
    // brings back what Redis had then (nothing).
    let held: Promise<void> | null = null;
    let sent!: () => void;
    const getSent = new Promise<void>((resolve) => (sent = resolve));
    const slow = cacheInstance(redis.url, {
      redis: {
        url: redis.url,
        createClient: (role, build) => {
          const client = build();
          if (role === 'commands') {
            const getBuffer = client.getBuffer.bind(client);
            Object.assign(client, {
              getBuffer: async (key: string) => {
                const answer = getBuffer(key);
                sent();
                const bytes = await answer;
                await held;
                return bytes;
              },
            });
          }
          return client;
        },
      },
    });
    try {
      await eventually(() => slow.status().redisReady && slow.status().busConnected);
      const key = cacheKey('raced', 1);
      let release!: () => void;
      held = new Promise<void>((resolve) => (release = resolve));
      let loads = 0;
      const reading = slow.getOrSet(key, async () => ++loads, { ttl: '1m' });
      await getSent;
      await slow.set(key, 42, { ttl: '1m' });
      release();
      expect(await reading).toBe(42);
      expect(loads).toBe(0);
    } finally {
      await slow.onApplicationShutdown();
    }
  });

  describe('a read that overlaps a write', () => {
    /** `b` writes the old value; `a` has heard of it on the bus, so nothing of that write is still on its way. */
    async function oldValueIn(key: CacheKey): Promise<void> {
      const heard = a.metrics.busMessagesIn;
      await b.set(key, 'old', { ttl: '1m' });
      await eventually(() => a.metrics.busMessagesIn > heard);
    }

    it.each(['delete', 'set'] as const)('does not keep in L1 what a GET sent before a %s brought back', async (write) => {
      const key = cacheKey('overlap', write);
      await oldValueIn(key);
      const reading = a.getOrSet(key, async () => 'loaded', { ttl: '1m' }); // its GET leaves first…
      await (write === 'delete' ? a.delete([key]) : a.set(key, 'new', { ttl: '1m' })); // …then the DEL or SET
      expect(await reading).toBe('old'); // it started before the write: either answer is its to take
      expect(await a.getOrSet(key, async () => 'new', { ttl: '1m' })).toBe('new');
    });

    it.each([
      ['delete', (key: CacheKey) => a.delete([key])],
      ['invalidateTags', () => a.invalidateTags(['overlap:t'])],
    ] as const)('does not hand a load that started before a %s to a caller that started after it', async (_name, evict) => {
      const key = cacheKey('overlap', `load-${_name}`);
      let row = 'old';
      let readRow!: () => void;
      const rowRead = new Promise<void>((resolve) => (readRow = resolve));
      const policy: CachePolicy = { ttl: '1m', tags: ['overlap:t'] };
      const first = a.getOrSet(key, async () => {
        const value = row; // read before the write…
        readRow();
        await sleep(100); // …and still on its way when the write and its eviction are done
        return value;
      }, policy);
      await rowRead;
      row = 'new';
      await evict(key);
      expect(await a.getOrSet(key, async () => row, policy)).toBe('new');
      expect(await first).toBe('old');
      expect(await a.getOrSet(key, async () => 'not loaded', policy)).toBe('new');
    });

    it('with mode expire, waits for the reload and serves the old entry only if reloading fails', async () => {
      for (const grace of [0, 60_000]) {
        const key = cacheKey('overlap', `expire-${grace}`);
        const policy: CachePolicy = { ttl: '1m', grace };
        await a.getOrSet(key, async () => 'old', policy);
        await a.delete([key], 'expire');
        const failing = async (): Promise<string> => {
          throw new Error('database down');
        };
        expect(await a.fetch(key, failing, policy)).toMatchObject({ value: 'old', source: 'stale' });
        expect(await a.fetch(key, async () => (await sleep(20), 'new'), policy)).toMatchObject({ value: 'new', source: 'miss' });
      }
    });

    it('set() of a value it does not cache (null without cacheNull) removes the previous one everywhere', async () => {
      const key = cacheKey('overlap', 'null');
      await oldValueIn(key);
      expect(await a.get(key)).toBe('old');
      await a.set(key, null, { ttl: '1m' });
      expect(await a.get(key)).toBeUndefined();
      await eventually(async () => (await b.get(key)) === undefined);
    });

    it('keeps a slow load for callers that joined it with a longer hard timeout than its starter’s', async () => {
      const key = cacheKey('overlap', 'slow');
      let loads = 0;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const loader = async () => {
        loads++;
        await released;
        return 'v';
      };
      const first = a.getOrSet(key, loader, { hardTimeout: 100 }).catch(() => 'gave up');
      await sleep(150);
      const patient = a.getOrSet(key, loader, { hardTimeout: '5s' });
      await sleep(5 * 100); // past five of the starter's hard timeouts, not of the patient caller's
      const late = a.getOrSet(key, loader, { hardTimeout: '5s' });
      release();
      expect(await Promise.all([first, patient, late])).toEqual(['gave up', 'v', 'v']);
      expect(loads).toBe(1);
    });

    it('gives up on a loader that never settles, for later callers too (five hard timeouts on)', async () => {
      const key = cacheKey('overlap', 'hung');
      const policy = { hardTimeout: 50 };
      await expect(a.getOrSet(key, () => new Promise<string>(() => undefined), policy)).rejects.toThrow(/took longer/);
      // A slow load is not started again at once: the next caller still waits on it…
      await expect(a.getOrSet(key, async () => 'too soon', policy)).rejects.toThrow(/took longer/);
      // …until it has run five times the hard timeout.
      await sleep(5 * 50);
      expect(await a.getOrSet(key, async () => 'fine', policy)).toBe('fine');
    });
  });

  it('reads many keys with one MGET and loads only the missing ones', async () => {
    await a.set(cacheKey('batch', 1), 'one', { ttl: '1m' });
    await b.set(cacheKey('batch', 2), 'two', { ttl: '1m' });
    const asked: number[][] = [];
    const keys = [1, 2, 3, 4].map((i) => cacheKey('batch', i));
    const values = await a.getMany(keys, async (indexes) => (asked.push(indexes), indexes.map((i) => `loaded ${i + 1}`)), { ttl: '1m' });
    expect(values).toEqual(['one', 'two', 'loaded 3', 'loaded 4']);
    expect(asked).toEqual([[2, 3]]);
    expect(await b.get(cacheKey('batch', 4))).toBe('loaded 4');
  });

  describe('a batch keeps the promises of a single key (single-flight, timeouts, grace)', () => {
    const rows = (ids: readonly number[]) => ids.map((id) => `row ${id}`);
    const gate = () => {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { opened, open };
    };
    const failing = async (): Promise<string[]> => {
      throw new Error('database down');
    };

    it('concurrent batches that miss the same ids load each id once, each batch in one loader call', async () => {
      // Eight calls of four ids each, every id in up to four of them: 0-3, 1-4, …, 7-10.
      const sets = Array.from({ length: 8 }, (_, c) => [c, c + 1, c + 2, c + 3]);
      const asked: number[][] = [];
      const db = gate();
      const loaderOf = (set: number[]) => async (indexes: number[]) => {
        const ids = indexes.map((i) => set[i]);
        asked.push(ids);
        await db.opened;
        return rows(ids);
      };
      const calls = sets.map((set) => a.getMany(set.map((id) => cacheKey('flight', id)), loaderOf(set), { ttl: '1m' }));
      await eventually(() => new Set(asked.flat()).size === 11);
      // A single-key read of an id a batch is loading waits on that load.
      let alone = 0;
      const single = a.getOrSet(cacheKey('flight', 5), async () => (alone++, 'loaded alone'), { ttl: '1m' });
      db.open();
      expect(await Promise.all(calls)).toEqual(sets.map(rows));
      expect(await single).toBe('row 5');
      expect(alone).toBe(0);
      expect(asked.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 11 }, (_, i) => i));
      expect(asked.length).toBeLessThanOrEqual(sets.length);
      expect(await b.get(cacheKey('flight', 10))).toBe('row 10');
    });

    it('a batch waits on a single-key load in progress and loads only the rest; an id twice in a batch loads once', async () => {
      const db = gate();
      let loading = false;
      const single = a.getOrSet(cacheKey('flight-mixed', 1), async () => ((loading = true), await db.opened, 'from getOrSet'), { ttl: '1m' });
      await eventually(() => loading);
      const asked: number[][] = [];
      const keys = [1, 2, 2].map((id) => cacheKey('flight-mixed', id));
      const batch = a.getMany(keys, async (indexes) => (asked.push(indexes), indexes.map((i) => `from batch ${i}`)), { ttl: '1m' });
      await eventually(() => asked.length === 1);
      db.open();
      expect(await batch).toEqual(['from getOrSet', 'from batch 1', 'from batch 1']);
      expect(await single).toBe('from getOrSet');
      expect(asked).toEqual([[1]]);
    });

    it('stops waiting for the loader at the hard timeout, as getOrSet does, and still stores its late result', async () => {
      const keys = [1, 2].map((id) => cacheKey('batch-hard', id));
      const db = gate();
      let loads = 0;
      const slow = async (indexes: number[]) => (loads++, await db.opened, indexes.map((i) => `late ${i}`));
      const policy = { ttl: '1m', hardTimeout: 300 } as const;
      const started = Date.now();
      await expect(a.getMany(keys, slow, policy)).rejects.toThrow(CacheLoadTimeoutError);
      expect(Date.now() - started).toBeLessThan(300 + SLACK_MS);
      // The load goes on (and is not started again meanwhile, as for a single key); what it brings is stored.
      await expect(a.getMany(keys, slow, policy)).rejects.toThrow(/longer than 300 ms/);
      db.open();
      await eventually(async () => (await b.get(keys[1])) === 'late 1');
      expect(await a.getMany(keys, failing, { ttl: '1m' })).toEqual(['late 0', 'late 1']);
      expect(loads).toBe(1);
    });

    it('serves entries in grace when the loader throws (from L1 and from Redis), and throws when one has nothing stale', async () => {
      const keys = [0, 1, 2].map((id) => cacheKey('batch-failsafe', id));
      await a.getMany(keys.slice(0, 2), async (indexes) => rows(indexes), { ttl: 30, grace: '1m', jitter: 0 });
      await sleep(50);
      const policy = { ttl: '1m', grace: '1m' } as const;
      expect(await a.getMany(keys.slice(0, 2), failing, policy)).toEqual(rows([0, 1]));
      expect(await b.getMany(keys.slice(0, 2), failing, policy)).toEqual(rows([0, 1]));
      expect(a.metrics.count('batch-failsafe', 'l1', 'stale')).toBe(2);
      expect(b.metrics.count('batch-failsafe', 'l2', 'stale')).toBe(2);
      await expect(a.getMany(keys, failing, policy)).rejects.toThrow('database down');
    });

    it('with mode expire, waits for the reload and serves the old entries only if reloading fails', async () => {
      const keys = [0, 1].map((id) => cacheKey('batch-expire', id));
      const policy = { ttl: '1m' } as const;
      await a.getMany(keys, async (indexes) => rows(indexes), policy);
      await a.delete(keys, 'expire');
      expect(await a.getMany(keys, failing, policy)).toEqual(rows([0, 1]));
      expect(await a.getMany(keys, async (indexes) => (await sleep(20), indexes.map((i) => `new ${i}`)), policy)).toEqual(['new 0', 'new 1']);
    });

    it('serves entries in grace at once while one refresh of them runs; an item refreshed while the call waits for another is fresh', async () => {
      const keys = [0, 1, 2].map((id) => cacheKey('batch-grace', id));
      await a.getMany(keys.slice(0, 2), async (indexes) => rows(indexes), { ttl: 30, grace: '1m', jitter: 0 });
      await sleep(50);
      const policy = { ttl: '1m', grace: '1m' } as const;
      const asked: number[][] = [];
      const db = gate();
      const slow = async (indexes: number[]) => (asked.push(indexes), await db.opened, indexes.map((i) => `new ${i}`));
      expect(await a.getMany(keys.slice(0, 2), slow, policy)).toEqual(rows([0, 1]));
      expect(await b.getMany(keys.slice(0, 2), slow, { ...policy, softTimeout: 50 })).toEqual(rows([0, 1]));
      // Another call meanwhile does not start a second refresh on this instance.
      expect(await a.getMany(keys.slice(0, 2), slow, policy)).toEqual(rows([0, 1]));
      expect(asked).toEqual([[0, 1], [0, 1]]);
      db.open();
      await eventually(async () => (await a.get(keys[1])) === 'new 1');
      expect(await a.getMany(keys.slice(0, 2), failing, policy)).toEqual(['new 0', 'new 1']);

      // The item in grace and the missing one come in one load: the call waits for the missing one anyway.
      await a.delete([keys[0]]);
      await a.getMany([keys[0]], async () => ['old 0'], { ttl: 30, grace: '1m', jitter: 0 });
      await sleep(50);
      expect(await a.getMany([keys[0], keys[2]], async (indexes) => (await sleep(20), indexes.map((i) => `newer ${i}`)), policy)).toEqual([
        'newer 0',
        'newer 1',
      ]);
    });
  });

  it('refuses a lease on a batch: a batch coordinates its loads within one instance only', async () => {
    // @ts-expect-error lease is not a batch option
    await expect(a.getMany([cacheKey('batch-lease', 1)], async () => ['v'], { lease: true })).rejects.toThrow(/lease/);
  });

  it('keeps in L1 bytes of its own, never a view into a larger reply buffer that would stay alive with it', async () => {
    // ioredis hands back each value of an MGET as a slice of the whole reply (or of a socket read): an L1 entry
    // holding that slice would keep every other value of the reply in memory, outside L1's byte budget.
    const keys = Array.from({ length: 40 }, (_, i) => cacheKey('owned', i));
    const card = (i: number) => ({ i, text: 'x'.repeat(10_000) });
    // Each set tells the other instance on the bus; a read of a key that a message reaches while the read is out
    // is not kept in L1 (it may predate the write), so the reads below wait for the messages.
    const heard = a.metrics.busMessagesIn;
    await Promise.all(keys.map((key, i) => b.set(key, card(i), { ttl: '1m' })));
    const single = cacheKey('owned', 'single');
    await b.set(single, card(-1), { ttl: '1m' });
    await eventually(() => a.metrics.busMessagesIn === heard + keys.length + 1);
    expect(await a.getMany(keys, async () => [], { ttl: '1m' })).toEqual(keys.map((_, i) => card(i)));
    expect(await a.get(single)).toEqual(card(-1));
    for (const key of [...keys, single]) {
      const held = await a.fetch(key, async () => null, { ttl: '1m' });
      expect(held.source).toBe('l1');
      expect(held.envelope!.bytes.buffer.byteLength).toBe(held.envelope!.bytes.length);
    }
    // What this instance writes itself is sized exactly too (no slice of Node's shared 8 KB pool).
    const own = await a.fetch(cacheKey('owned', 'written'), async () => ({ small: true }), { ttl: '1m' });
    expect(own.envelope!.bytes.buffer.byteLength).toBe(own.envelope!.bytes.length);
  });

  it('clears its L1 when its bus connection is killed and comes back', async () => {
    const key = cacheKey('reconnect', 1);
    await b.getOrSet(key, async () => 'cached', { ttl: '1m' });
    expect(b.status().l1Entries).toBeGreaterThan(0);
    const raw = redis.client();
    await raw.client('KILL', 'TYPE', 'pubsub');
    raw.disconnect();
    await eventually(() => b.status().l1Entries === 0 && b.status().busConnected, 5_000);
    expect(b.metrics.busReconnects).toBeGreaterThanOrEqual(1);
  });
});
