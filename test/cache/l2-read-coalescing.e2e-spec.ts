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

  const gets = () => chaos.commands.filter((c) => c === 'getBuffer').length;
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
});
