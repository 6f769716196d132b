import { CacheService, cacheKey } from '../../src/cache';
import { OwnRedis } from '../support/redis-server';
import { Chaos } from './chaos';
import { cacheInstance, eventually } from './support';

/**
 * Concurrent reads of one key share one Redis GET (a hot key costs one round trip per batch of readers), but a
 * reader never takes a shared answer that may predate a write it could already have seen.
 */
describe('coalesced L2 reads', () => {
  jest.setTimeout(20_000);
  let redis: OwnRedis;
  let chaos: Chaos;
  let a: CacheService;
  let b: CacheService;

  beforeAll(async () => {
    redis = await OwnRedis.start();
  });
  beforeEach(async () => {
    chaos = new Chaos();
    // L1 off on `a`: every read goes to Redis, through the chaos wrapper that lets a test hold answers back
    // (for less than the command timeout).
    a = cacheInstance(redis.url, { l1MaxBytes: 0, commandTimeoutMs: 5_000, redis: { url: redis.url, createClient: (_role, build) => chaos.wrap(build()) } });
    b = cacheInstance(redis.url);
    await eventually(() => a.status().busConnected && b.status().busConnected);
  });
  afterEach(async () => {
    await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown()]);
  });
  afterAll(() => redis.stop());

  const sent = (command: string) => chaos.commands.filter((c) => c === command).length;
  const gets = () => sent('getBuffer');
  /** Reads the key once so the entry's tag versions are known locally: later reads send nothing but GETs. */
  const prime = async (key: ReturnType<typeof cacheKey>) => {
    await a.get(key);
  };

  it('twenty concurrent reads of one key send one GET and all get the value', async () => {
    const key = cacheKey('coalesce', 'hot');
    await b.set(key, { n: 1 }, { ttl: '1m' });
    await prime(key);
    chaos.settings.replyDelayMs = 100;
    const before = gets();
    const values = await Promise.all(Array.from({ length: 20 }, () => a.get(key)));
    expect(values).toEqual(Array.from({ length: 20 }, () => ({ n: 1 })));
    expect(gets() - before).toBe(1);
    // Once answered, the next read sends a GET of its own.
    await a.get(key);
    expect(gets() - before).toBe(2);
  });

  it('a reader that arrives after a write does not take the answer of a GET sent before it', async () => {
    const key = cacheKey('coalesce', 'written');
    await b.set(key, 'old', { ttl: '1m' });
    await prime(key);
    const before = gets();
    chaos.settings.replyDelayMs = 300;
    // Redis answers this GET at once ("old"); the answer reaches the cache 300 ms later.
    const early = a.get(key);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const heard = a.metrics.busMessagesIn;
    await b.set(key, 'new', { ttl: '1m' });
    await eventually(() => a.metrics.busMessagesIn > heard);
    // The write is done and this instance has heard of it: a read starting now must see it.
    const late = a.get(key);
    expect(await early).toBe('old');
    expect(await late).toBe('new');
    expect(gets() - before).toBe(2);
  });

  it('an invalidated tag of the shared entry also sends the late reader to Redis again', async () => {
    const key = cacheKey('coalesce', 'tagged');
    let version = 1;
    const loader = async () => version;
    await b.getOrSet(key, loader, { ttl: '1m', tags: ['coalesced-tag'] });
    chaos.settings.replyDelayMs = 300;
    const early = a.getOrSet(key, loader, { ttl: '1m', tags: ['coalesced-tag'] });
    await new Promise((resolve) => setTimeout(resolve, 20));
    version = 2;
    const heard = a.metrics.busMessagesIn;
    await b.invalidateTags(['coalesced-tag']);
    await eventually(() => a.metrics.busMessagesIn > heard);
    const late = a.getOrSet(key, loader, { ttl: '1m', tags: ['coalesced-tag'] });
    // The early reader was concurrent with the invalidation: either answer is right for it.
    expect([1, 2]).toContain(await early);
    expect(await late).toBe(2);
  });

  it('reads of other keys while a read is out go together as one MGET, each getting its own value', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => cacheKey('batched', i));
    for (const [i, key] of keys.entries()) {
      await b.set(key, { i }, { ttl: '1m' });
      await prime(key);
    }
    chaos.settings.replyDelayMs = 100;
    const [getsBefore, mgetsBefore] = [gets(), sent('mgetBuffer')];
    // Alone on an idle tier, the first read is sent at once, as a GET; the rest arrive while it is out.
    const first = a.get(keys[0]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(gets() - getsBefore).toBe(1);
    const values = await Promise.all(keys.map((key) => a.get(key)));
    expect(await first).toEqual({ i: 0 });
    expect(values).toEqual(keys.map((_, i) => ({ i })));
    // keys[0] joined the GET already out (same key); the other 29 went in one MGET.
    expect(gets() - getsBefore).toBe(1);
    expect(sent('mgetBuffer') - mgetsBefore).toBe(1);
    // Priming, the first read, then all of them again.
    expect(a.metrics.count('batched', 'l2', 'hit')).toBe(keys.length + 1 + keys.length);
  });

  it('a batch that fails is a miss for every read in it, counted as one failed command', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => cacheKey('batched-fail', i));
    for (const key of keys) {
      await b.set(key, 'stored', { ttl: '1m' });
      await prime(key);
    }
    chaos.settings.replyDelayMs = 100;
    const first = a.get(keys[0]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    chaos.settings.throwRate = 1;
    const calls = chaos.calls;
    const values = await Promise.all(keys.slice(1).map((key) => a.get(key)));
    expect(values).toEqual(keys.slice(1).map(() => undefined));
    expect(await first).toBe('stored');
    expect(chaos.calls - calls).toBe(1);
    expect(a.metrics.redisErrors.get('connection')).toBe(1);
  });
});
