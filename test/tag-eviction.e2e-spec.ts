import Redis from 'ioredis';
import { createCharacter, createUser } from './support/fixtures';
import { OwnRedis, scanKeys } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';

/**
 * Under `maxmemory-policy allkeys-lru` (what deploy/ recommends), Redis evicts keys nobody reads. A tag key is
 * one: an L1 hit never reads it and a stamp from local knowledge never writes it, while the entries stamped with
 * it stay hot. The write that comes next must still invalidate them, on every instance. (A tag key made again
 * from 0 did not: its first bump reached only a version the entries already had.)
 */
describe('a tag key evicted by Redis under maxmemory', () => {
  jest.setTimeout(120_000);
  let redis: OwnRedis;
  let raw: Redis;
  let t: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    redis = await OwnRedis.start(['--maxmemory', '8mb', '--maxmemory-policy', 'allkeys-lru']);
    raw = new Redis(redis.url);
    t = await bootTestApp({ REDIS_URL: redis.url });
    second = await bootTestApp({ REDIS_URL: redis.url, DATABASE_URL: t.databaseUrl });
  });
  afterAll(async () => {
    raw.disconnect();
    await second.close();
    await t.close();
    await redis.stop();
  });

  /** The one key matching `pattern`. */
  async function onlyKey(pattern: string): Promise<string> {
    const found = await scanKeys(raw, pattern);
    expect(found).toHaveLength(1);
    return found[0];
  }

  it('making a character private after its tag key was evicted hides it from anonymous readers everywhere', async () => {
    const owner = await createUser(t);
    const c = await createCharacter(t, owner, { name: 'Lru Victim', visibility: 'public' });
    // In both instances' L1 (and in Redis), stamped with the character's tag.
    await t.http.get(`/characters/${c.id}`).expect(200);
    await second.http.get(`/characters/${c.id}`).expect(200);
    const tagKey = await onlyKey(`*:tag:*${c.id}*`);
    const entryKey = await onlyKey(`*:characters:detail:${c.id}:sfw`);
    // Other traffic fills memory; the entry is read now and then (an instance with a cold L1), the tag never.
    const filler = 'x'.repeat(2_000);
    for (let batch = 0; (await raw.exists(tagKey)) === 1 && batch < 400; batch++) {
      const pipeline = raw.pipeline();
      for (let i = 0; i < 200; i++) {
        pipeline.set(`filler:${batch}:${i}`, filler, 'PX', 600_000);
        if (i % 10 === 0) {
          pipeline.get(entryKey);
        }
      }
      await pipeline.exec();
    }
    expect(await raw.exists(tagKey)).toBe(0);

    const patched = await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ visibility: 'private' }).expect(200);
    expect(patched.body.visibility).toBe('private');
    expect((await t.http.get(`/characters/${c.id}`)).status).toBe(404);
    // The other instance hears of it on the bus; allow for the message.
    for (let i = 0; i < 50 && (await second.http.get(`/characters/${c.id}`)).status !== 404; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await second.http.get(`/characters/${c.id}`)).status).toBe(404);
  });
});
