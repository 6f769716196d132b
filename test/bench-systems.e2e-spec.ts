import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Cache } from 'cache-manager';
import { createPeerApp } from '../bench/peers/cache-manager-app';
import { createCeilingApp } from '../bench/peers/ceiling';
import { createFloorApp } from '../bench/peers/fastify-floor';
import { createCharacter, createUser } from './support/fixtures';
import { OwnRedis } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';
import { eventually } from './support/timing';

/**
 * The load benchmark's other systems (bench/peers) boot against this code and answer what ours answers. They are
 * built from our own services, so a change to a constructor can break them without breaking the app: this suite
 * catches that in `npm test` rather than fifteen minutes into `npm run bench`.
 */
describe('bench systems', () => {
  let redis: OwnRedis;
  let t: TestApp;
  let paths: string[];
  let detailId: string;
  const others: NestFastifyApplication[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await bootTestApp({ REDIS_URL: redis.url });
    const owner = await createUser(t);
    const characters = [];
    for (let i = 0; i < 3; i++) {
      characters.push(await createCharacter(t, owner, { name: `Benched ${i}` }));
    }
    detailId = characters[1].id;
    paths = ['/characters?mode=all&page=1&limit=20', '/characters/featured', `/characters/${detailId}`];
  });
  afterAll(async () => {
    await Promise.all(others.map((app) => app.close()));
    await Promise.all(closers.map((close) => close()));
    await t.close();
    await redis.stop();
  });

  async function started(app: NestFastifyApplication): Promise<NestFastifyApplication> {
    others.push(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  }

  async function answer(
    app: NestFastifyApplication,
    url: string,
  ): Promise<{ status: number; body: unknown }> {
    const res = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() };
  }

  it('the peer (@nestjs/cache-manager over our CharactersService) answers as ours does, then from Redis', async () => {
    const peer = await started(await createPeerApp());
    // cache-manager keeps its Keyv Redis client open past app.close().
    closers.push(() => peer.get<Cache>(CACHE_MANAGER).disconnect());
    for (const path of paths) {
      const ours = await t.http.get(path).expect(200);
      expect(await answer(peer, path)).toEqual({ status: 200, body: ours.body });
    }
    // Its interceptor stores after answering, keyed by the URL as it is.
    const client = redis.client();
    closers.push(async () => client.disconnect());
    await eventually(async () => (await client.exists(...paths)) === paths.length);

    // Served from Redis from now on: a change the peer does not know of stays unseen.
    await t.db.query(`UPDATE characters SET name = 'Renamed Behind Its Back' WHERE id = $1`, [detailId]);
    const again = await answer(peer, paths[2]);
    expect(again).toMatchObject({ status: 200, body: { id: detailId, name: 'Benched 1' } });
  });

  it('the ceiling answers each path with the page it was given, and 404 for any other', async () => {
    const pages = Object.fromEntries(
      await Promise.all(paths.map(async (path) => [path, (await t.http.get(path)).body] as const)),
    );
    const ceiling = await started(await createCeilingApp(pages));
    for (const path of paths) {
      expect(await answer(ceiling, path)).toEqual({ status: 200, body: pages[path] });
    }
    expect((await answer(ceiling, '/characters?mode=all&page=2&limit=20')).status).toBe(404);
  });

  it('the floor (Fastify alone) answers each path with the page it was given, as JSON, and 404 for any other', async () => {
    const pages = Object.fromEntries(
      await Promise.all(paths.map(async (path) => [path, (await t.http.get(path)).body] as const)),
    );
    const floor = createFloorApp(pages);
    closers.push(() => floor.close());
    for (const path of paths) {
      const res = await floor.inject({ method: 'GET', url: path });
      expect({ status: res.statusCode, type: res.headers['content-type'], body: res.json<unknown>() }).toEqual({
        status: 200,
        type: 'application/json; charset=utf-8',
        body: pages[path],
      });
    }
    expect((await floor.inject({ method: 'GET', url: '/characters?mode=all&page=2&limit=20' })).statusCode).toBe(404);
  });
});
