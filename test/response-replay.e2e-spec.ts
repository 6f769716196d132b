import { CacheService } from '../src/cache';
import { ResponseReplay } from '../src/http-cache/response-replay';
import { createCharacter, createUser, TestUser } from './support/fixtures';
import { png } from './support/images';
import { OwnRedis } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';
import { eventually } from './support/timing';

/**
 * Anonymous GETs answered before Nest's pipeline (ResponseReplay), against real PostgreSQL and Redis: a replayed
 * answer costs no database statement, is byte-for-byte what Nest answered, and is never served once any cache
 * entry behind it changed — nor to a caller with credentials.
 */
describe('response replay', () => {
  jest.setTimeout(30_000);
  let redis: OwnRedis;
  let t: TestApp;
  let owner: TestUser;
  let replay: ResponseReplay;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await bootTestApp({ REDIS_URL: redis.url });
    owner = await createUser(t);
    replay = t.app.get(ResponseReplay);
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  /** A read, with the statements PostgreSQL received and whether it was replayed. */
  async function observed(path: string, headers: Record<string, string> = {}) {
    const queries = t.queries();
    const replayed = replay.counts.replayed;
    const res = await t.http.get(path).set(headers);
    return { res, queries: t.queries() - queries, replayed: replay.counts.replayed - replayed };
  }

  /** A character of the owner's with one image, and the URL of its gallery. */
  async function galleryOfOne(name: string) {
    const c = await createCharacter(t, owner, { name });
    await t.http
      .post(`/characters/${c.id}/images`)
      .set(owner.auth)
      .attach('file', png(4, 4), { filename: 'a.png', contentType: 'image/png' })
      .expect(201);
    return { c, path: `/characters/${c.id}/images?page=1&limit=5` };
  }

  it('replays the second anonymous read of a URL: same bytes and headers, no database work', async () => {
    const c = await createCharacter(t, owner, { name: 'Replayed Once' });
    const path = `/characters?mode=new&limit=3&tag=replay-${c.id.slice(0, 8)}`;
    const first = await observed(path);
    expect(first.res.status).toBe(200);
    expect(first.replayed).toBe(0);
    expect(first.queries).toBeGreaterThan(0);

    const second = await observed(path);
    expect(second.replayed).toBe(1);
    expect(second.queries).toBe(0);
    expect(second.res.text).toBe(first.res.text);
    // Answered before Fastify, with the very headers Fastify and Nest sent (names and, but for these, values).
    expect(Object.keys(second.res.headers).sort()).toEqual(Object.keys(first.res.headers).sort());
    for (const header of ['etag', 'content-type', 'content-length', 'vary', 'connection', 'keep-alive']) {
      expect(second.res.headers[header]).toBe(first.res.headers[header]);
    }
    expect(second.res.headers['x-cache']).toBe('HIT-L1');
    expect(second.res.headers['cache-control']).toMatch(/^public, max-age=\d+, stale-while-revalidate=\d+, stale-if-error=\d+$/);
    expect(second.res.headers['x-request-id']).toBeDefined();

    const notModified = await observed(path, { 'If-None-Match': first.res.headers.etag });
    expect(notModified.res.status).toBe(304);
    expect(notModified.replayed).toBe(1);
  });

  it('never replays to a caller with credentials, and never records their answers', async () => {
    const c = await createCharacter(t, owner, { name: 'Only Mine', visibility: 'private' });
    const path = `/characters/${c.id}`;
    await t.http.get(path).set(owner.auth).expect(200);
    const again = await observed(path, owner.auth);
    expect(again.res.status).toBe(200);
    expect(again.replayed).toBe(0);
    // The owner's answer was not recorded for the URL: an anonymous caller gets Nest's answer, a 404.
    const anonymous = await observed(path);
    expect(anonymous.res.status).toBe(404);
    expect(anonymous.replayed).toBe(0);

    const shared = await createCharacter(t, owner, { name: 'Shared' });
    await t.http.get(`/characters/${shared.id}`).expect(200);
    const withToken = await observed(`/characters/${shared.id}`, owner.auth);
    expect(withToken.replayed).toBe(0);
    expect(withToken.res.headers['cache-control']).toBe('private, no-cache');
  });

  it('stops replaying the moment a write changes an entry behind the answer', async () => {
    const c = await createCharacter(t, owner, { name: 'Before' });
    const path = `/characters/${c.id}`;
    await t.http.get(path).expect(200);
    expect((await observed(path)).replayed).toBe(1);

    await t.http.patch(path).set(owner.auth).send({ name: 'After' }).expect(200);
    const after = await observed(path);
    expect(after.replayed).toBe(0);
    expect(after.res.body.name).toBe('After');
    const replayedAgain = await observed(path);
    expect(replayedAgain.replayed).toBe(1);
    expect(replayedAgain.res.body.name).toBe('After');

    // Hidden from anonymous callers by a write: the recorded 200 is not replayed, Nest answers 404.
    await t.http.patch(path).set(owner.auth).send({ visibility: 'private' }).expect(200);
    const hidden = await observed(path);
    expect(hidden.replayed).toBe(0);
    expect(hidden.res.status).toBe(404);
  });

  it('tells HTTP caches to keep a gallery no longer than the character it was checked against', async () => {
    // The gallery entry is fresh for 15 minutes, the character detail for 10: a CDN keeping the gallery longer
    // than the detail could serve it after the character went private.
    const { c, path } = await galleryOfOne('Short-lived');
    const maxAge = (res: { headers: Record<string, string> }) => Number(/max-age=(\d+)/.exec(res.headers['cache-control'])![1]);
    const detail = await t.http.get(`/characters/${c.id}`).expect(200);
    const answered = await observed(path);
    const replayed = await observed(path);
    expect(replayed.replayed).toBe(1);
    expect(maxAge(detail)).toBeGreaterThan(0);
    expect(maxAge(answered.res)).toBeLessThanOrEqual(maxAge(detail));
    expect(maxAge(replayed.res)).toBeLessThanOrEqual(maxAge(detail));
  });

  it('replays a gallery with its Link preload header, and checks the character it depends on too', async () => {
    const { c, path } = await galleryOfOne('Gallery');
    const first = await observed(path);
    expect(first.res.status).toBe(200);
    expect(first.res.headers.link).toMatch(/rel=preload/);
    const second = await observed(path);
    expect(second.replayed).toBe(1);
    expect(second.queries).toBe(0);
    expect(second.res.headers.link).toBe(first.res.headers.link);
    expect(second.res.text).toBe(first.res.text);

    // The gallery page itself is unchanged, but the character went private: the answer must become a 404.
    await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ visibility: 'private' }).expect(200);
    const hidden = await observed(path);
    expect(hidden.replayed).toBe(0);
    expect(hidden.res.status).toBe(404);
  });

  it('does not replay routes that are not marked, nor errors', async () => {
    const missing = '/characters/00000000-0000-4000-8000-000000000000';
    await t.http.get(missing).expect(404);
    expect((await observed(missing)).replayed).toBe(0);
    await t.http.get('/health/live').expect(200);
    expect((await observed('/health/live')).replayed).toBe(0);
    await t.http.get('/characters?limit=0').expect(400);
    expect((await observed('/characters?limit=0')).replayed).toBe(0);
  });

  it('with L1 off, replays from Redis an answer built from several reads, and stops when any of them changes', async () => {
    const { c, path } = await galleryOfOne('Redis Gallery');
    const other = await bootTestApp({ DATABASE_URL: t.databaseUrl, REDIS_URL: redis.url, CACHE_L1_MAX_BYTES: '0' });
    try {
      const otherReplay = other.app.get(ResponseReplay);
      const first = await other.http.get(path).expect(200);
      const counts = { ...otherReplay.counts };
      const queries = other.queries();
      // How many reads the replay has out at once.
      const cache = other.app.get(CacheService);
      const peek = cache.peekFresh.bind(cache);
      const inFlight = { now: 0, most: 0 };
      const spy = jest.spyOn(cache, 'peekFresh').mockImplementation((read) => {
        inFlight.most = Math.max(inFlight.most, ++inFlight.now);
        return peek(read).finally(() => inFlight.now--);
      });
      const second = await other.http.get(path).expect(200);
      spy.mockRestore();
      // Both reads behind the gallery (the page and the character) came from Redis, started together.
      expect(inFlight.most).toBe(2);
      expect(otherReplay.counts.replayed).toBe(counts.replayed + 1);
      expect(other.queries()).toBe(queries);
      expect(second.headers['x-cache']).toBe('HIT-L2');
      expect(second.text).toBe(first.text);
      expect(second.headers.link).toBe(first.headers.link);

      // The second read (the character) changes: the replay stops there and Nest answers.
      await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ visibility: 'private' }).expect(200);
      await other.http.get(path).expect(404);
      expect(otherReplay.counts.replayed).toBe(counts.replayed + 1);
      expect(otherReplay.counts.passed).toBe(counts.passed + 1);
    } finally {
      await other.close();
    }
  });

  it('on a second instance, a write elsewhere stops the replay there too (bus), with L1 on or off', async () => {
    const c = await createCharacter(t, owner, { name: 'Two Instances' });
    const path = `/characters/${c.id}`;
    for (const l1 of ['67108864', '0']) {
      const other = await bootTestApp({ DATABASE_URL: t.databaseUrl, REDIS_URL: redis.url, CACHE_L1_MAX_BYTES: l1 });
      try {
        const otherReplay = other.app.get(ResponseReplay);
        await other.http.get(path).expect(200);
        const replayed = otherReplay.counts.replayed;
        const before = (await other.http.get(path).expect(200)).body.name as string;
        expect(otherReplay.counts.replayed).toBe(replayed + 1);
        expect(before).not.toBe(`Renamed ${l1}`);

        await t.http.patch(path).set(owner.auth).send({ name: `Renamed ${l1}` }).expect(200);
        await eventually(async () => (await other.http.get(path).expect(200)).body.name === `Renamed ${l1}`);
      } finally {
        await other.close();
      }
    }
  });
});
