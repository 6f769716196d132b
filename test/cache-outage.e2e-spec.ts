import { cacheKey, CacheService } from '../src/cache';
import { createCharacter, createUser, TestUser } from './support/fixtures';
import { OwnRedis } from './support/redis-server';
import { TcpProxy } from './support/tcp-proxy';
import { bootTestApp, createSuiteDatabase, TestApp } from './support/test-app';

describe('when Redis dies in the middle of the traffic', () => {
  jest.setTimeout(60_000);
  let redis: OwnRedis;
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await bootTestApp({ REDIS_URL: redis.url, CACHE_COMMAND_TIMEOUT_MS: '100' });
    owner = await createUser(t);
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('keeps answering 200 from PostgreSQL, then serves hits again once Redis is back', async () => {
    const chars = await Promise.all([1, 2, 3, 4, 5].map((i) => createCharacter(t, owner, { name: `Outage ${i}` })));
    const paths = [...chars.map((c) => `/characters/${c.id}`), '/characters?mode=new', '/characters/featured'];
    for (const path of paths) {
      await t.http.get(path).expect(200);
    }
    await redis.kill();
    const statuses: number[] = [];
    const started = Date.now();
    for (let round = 0; round < 5; round++) {
      for (const path of [...paths, `/characters?mode=all&page=${round + 1}`]) {
        statuses.push((await t.http.get(path)).status);
      }
      // Writes keep working too, and their invalidations wait for Redis.
      await t.http.patch(`/characters/${chars[round].id}`).set(owner.auth).send({ description: `during ${round}` }).expect(200);
      expect((await t.http.get(`/characters/${chars[round].id}`).expect(200)).body.description).toBe(`during ${round}`);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);

    await redis.spawn();
    const cache = t.app.get(CacheService);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !(cache.status().redisReady && cache.status().breaker === 'closed' && cache.status().pendingInvalidations === 0)) {
      await t.http.get(paths[0]);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(cache.status()).toMatchObject({ redisReady: true, breaker: 'closed', degraded: false });
    // A second instance reads what this one stores now: hits come from Redis again.
    const fresh = await createCharacter(t, owner, { name: 'After Outage' });
    const second = await bootTestApp({ DATABASE_URL: t.databaseUrl, REDIS_URL: redis.url });
    try {
      const res = await second.http.get(`/characters/${fresh.id}`).expect(200);
      expect(res.headers['x-cache']).toBe('HIT-L2');
    } finally {
      await second.close();
    }
  });
});

describe('when PostgreSQL is down', () => {
  jest.setTimeout(60_000);
  let proxy: TcpProxy;
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    const url = new URL(await createSuiteDatabase());
    proxy = await TcpProxy.start(url.hostname, Number(url.port || 5432));
    url.host = `127.0.0.1:${proxy.port}`;
    t = await bootTestApp({ DATABASE_URL: url.toString(), DB_CONNECT_TIMEOUT_MS: '500', DB_QUERY_TIMEOUT_MS: '2000' });
    owner = await createUser(t);
  });
  afterAll(async () => {
    proxy.restore();
    await t.close();
    await proxy.stop();
  });

  it('serves a stale entry in grace with X-Cache: STALE, and a clean 503 where nothing is cached — never a hang', async () => {
    const c = await createCharacter(t, owner, { name: 'Survivor' });
    await t.http.get(`/characters/${c.id}`).expect(200);
    // End the entry's fresh period: it is now past its TTL but inside its grace.
    await t.app.get(CacheService).delete([cacheKey('characters:detail', c.id, 'sfw')], 'expire');
    proxy.cut();

    const stale = await t.http.get(`/characters/${c.id}`).expect(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(stale.body.name).toBe('Survivor');
    expect(stale.headers['cache-control']).toMatch(/^public, max-age=0,/);

    const started = Date.now();
    const missing = await t.http.get('/characters?mode=popular&limit=99');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(missing.status).toBe(503);
    expect(missing.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'DATABASE_UNAVAILABLE',
      message: 'The database is unavailable; try again shortly',
    });
    expect(missing.headers['retry-after']).toBe('5');

    proxy.restore();
    const back = await t.http.get('/characters?mode=popular&limit=99').expect(200);
    expect(back.headers['x-cache']).toBe('MISS');
  });
});
