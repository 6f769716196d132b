import { createHmac } from 'node:crypto';
import { callbackPath } from './support/fake-generator';
import { createCharacter, createUser, TestUser } from './support/fixtures';
import { png } from './support/images';
import { OwnRedis } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';
import { eventually } from './support/timing';

const BILLING_SECRET = 'billing-secret-for-cache-tests-012345';
const GENERATOR_SECRET = 'generator-secret-for-cache-tests-0123';

/**
 * The product's caching, end to end against real PostgreSQL and Redis: every invalidation event is followed by a
 * fresh read, and every assertion on caching looks at what the database saw (statement counts), not only at
 * what the response said.
 */
describe('domain caching', () => {
  jest.setTimeout(30_000);
  let redis: OwnRedis;
  let t: TestApp;
  let owner: TestUser;
  let reader: TestUser;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await bootTestApp({
      REDIS_URL: redis.url,
      BILLING_WEBHOOK_SECRET: BILLING_SECRET,
      GENERATOR_WEBHOOK_SECRET: GENERATOR_SECRET,
    });
    owner = await createUser(t);
    reader = await createUser(t);
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  /** Runs `read` and returns its response with the number of statements PostgreSQL received meanwhile. */
  async function counted<T>(read: () => Promise<T>): Promise<{ res: T; queries: number }> {
    const before = t.queries();
    const res = await read();
    return { res, queries: t.queries() - before };
  }

  const listIds = (body: { items: { id: string }[] }) => body.items.map((c) => c.id);

  describe('HTTP semantics', () => {
    it('answers a repeat read from L1 with the stored bytes, an ETag and no database work', async () => {
      const c = await createCharacter(t, owner, { name: 'Cached One' });
      // The write warmed the detail entry; a different key is cold.
      const first = await counted(() => t.http.get(`/characters/${c.id}`).expect(200));
      expect(first.res.headers['x-cache']).toBe('HIT-L1');
      expect(first.queries).toBe(0);
      const again = await counted(() => t.http.get(`/characters/${c.id}`).expect(200));
      expect(again.queries).toBe(0);
      expect(again.res.headers.etag).toMatch(/^"[\w-]{22}"$/);
      expect(again.res.text).toBe(first.res.text);
      expect(again.res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(again.res.text)).toMatchObject({ id: c.id, name: 'Cached One' });

      const cold = await counted(() => t.http.get('/characters?mode=new&limit=7').expect(200));
      expect(cold.res.headers['x-cache']).toBe('MISS');
      expect(cold.queries).toBeGreaterThan(0);
    });

    it('answers If-None-Match with 304 and no body', async () => {
      const c = await createCharacter(t, owner);
      const res = await t.http.get(`/characters/${c.id}`).expect(200);
      const notModified = await t.http.get(`/characters/${c.id}`).set('If-None-Match', res.headers.etag).expect(304);
      expect(notModified.text ?? '').toBe('');
      expect(notModified.headers.etag).toBe(res.headers.etag);
      await t.http.get(`/characters/${c.id}`).set('If-None-Match', '"something-else-entirely"').expect(200);
    });

    it('is public for anonymous callers, for at most a minute downstream (no write can evict a CDN copy); private when a token is sent', async () => {
      const anonymous = await t.http.get('/characters?mode=popular').expect(200);
      const publicMatch = /^public, max-age=(\d+), stale-while-revalidate=(\d+), stale-if-error=(\d+)$/.exec(anonymous.headers['cache-control']);
      expect(publicMatch).not.toBeNull();
      // The list entry is fresh for minutes, its grace 10 minutes: downstream copies get a minute of each, and
      // the whole grace only while the origin fails.
      expect(Number(publicMatch![1])).toBe(60);
      expect(Number(publicMatch![2])).toBe(60);
      expect(Number(publicMatch![3])).toBeGreaterThan(60);
      expect(anonymous.headers.vary).toBe('Authorization');
      const authenticated = await t.http.get('/characters?mode=popular').set(reader.auth).expect(200);
      expect(authenticated.headers['cache-control']).toBe('private, no-cache');
      expect(authenticated.headers.vary).toBe('Authorization');
      const mine = await t.http.get('/characters?mode=mine').set(owner.auth).expect(200);
      expect(mine.headers['cache-control']).toBe('private, no-cache');
    });

    it('tells caches downstream to keep nothing that is not a cache entry: errors and personal answers', async () => {
      const missing = await t.http.get('/characters/00000000-0000-4000-8000-000000000000').expect(404);
      expect(missing.headers['cache-control']).toBe('no-store');
      const hidden = await createCharacter(t, owner, { name: 'Hidden', visibility: 'private' });
      expect((await t.http.get(`/characters/${hidden.id}`).expect(404)).headers['cache-control']).toBe('no-store');
      const me = await t.http.get('/users/me').set(owner.auth).expect(200);
      expect(me.headers['cache-control']).toBe('no-store');
      expect(me.headers.vary).toBe('Authorization');
    });

    it('serves another instance from Redis (HIT-L2) and sends the same bytes', async () => {
      const c = await createCharacter(t, owner, { name: 'Shared' });
      const a = await t.http.get(`/characters/${c.id}`).expect(200);
      const second = await bootTestApp({ DATABASE_URL: t.databaseUrl, REDIS_URL: redis.url });
      try {
        const before = second.queries();
        const b = await second.http.get(`/characters/${c.id}`).expect(200);
        expect(b.headers['x-cache']).toBe('HIT-L2');
        expect(second.queries() - before).toBe(0);
        expect(b.text).toBe(a.text);
        expect(b.headers.etag).toBe(a.headers.etag);
      } finally {
        await second.close();
      }
    });
  });

  describe('invalidation: the next read after a write is fresh, and only then does the database work', () => {
    it('character update → its detail and the lists that show it', async () => {
      const c = await createCharacter(t, owner, { name: 'Before Update', tags: ['inval'] });
      await t.http.get(`/characters/${c.id}`).expect(200);
      await t.http.get('/characters?tag=inval').expect(200);
      const warm = await counted(() => t.http.get('/characters?tag=inval').expect(200));
      expect(warm.queries).toBe(0);

      await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ description: 'changed' }).expect(200);
      const detail = await t.http.get(`/characters/${c.id}`).expect(200);
      expect(detail.body.description).toBe('changed');
      const list = await counted(() => t.http.get('/characters?tag=inval').expect(200));
      expect(list.queries).toBeGreaterThan(0);
      expect(list.res.body.items[0].description).toBe('changed');
    });

    it('character create → the new lists and the owner’s mine list show it', async () => {
      await t.http.get('/characters?mode=new&limit=5').expect(200);
      await t.http.get('/characters?mode=mine').set(owner.auth).expect(200);
      const c = await createCharacter(t, owner, { name: 'Brand New' });
      expect(listIds((await t.http.get('/characters?mode=new&limit=5').expect(200)).body)[0]).toBe(c.id);
      expect(listIds((await t.http.get('/characters?mode=mine').set(owner.auth).expect(200)).body)).toContain(c.id);
    });

    it('character delete → its detail is gone and no list shows it', async () => {
      const c = await createCharacter(t, owner, { name: 'Doomed', tags: ['doomed'] });
      await t.http.get(`/characters/${c.id}`).expect(200);
      expect(listIds((await t.http.get('/characters?tag=doomed').expect(200)).body)).toEqual([c.id]);
      await t.http.delete(`/characters/${c.id}`).set(owner.auth).expect(204);
      await t.http.get(`/characters/${c.id}`).expect(404);
      expect(listIds((await t.http.get('/characters?tag=doomed').expect(200)).body)).toEqual([]);
    });

    it('bulk update → every changed character leaves the public lists', async () => {
      const chars = await Promise.all([1, 2, 3].map(() => createCharacter(t, owner, { tags: ['bulkcache'] })));
      expect((await t.http.get('/characters?tag=bulkcache').expect(200)).body.total).toBe(3);
      await t.http
        .post('/characters/bulk')
        .set(owner.auth)
        .send({ ids: chars.map((c) => c.id), set: { visibility: 'private' } })
        .expect(200);
      expect((await t.http.get('/characters?tag=bulkcache').expect(200)).body.total).toBe(0);
      for (const c of chars) {
        await t.http.get(`/characters/${c.id}`).expect(404);
      }
    });

    it('a rename reorders the name-ordered list without touching unrelated cached lists', async () => {
      const c = await createCharacter(t, owner, { name: 'Zzz Last' });
      const other = await createCharacter(t, owner, { name: 'Bystander', tags: ['bystander'] });
      const unrelated = '/characters?mode=new&tag=bystander';
      await t.http.get('/characters?mode=all&limit=100').expect(200);
      await t.http.get(unrelated).expect(200);
      const warm = await counted(() => t.http.get(unrelated).expect(200));
      expect(warm.queries).toBe(0);
      expect(listIds(warm.res.body)).toEqual([other.id]);
      await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ name: 'Aaa First' }).expect(200);
      const all = await t.http.get('/characters?mode=all&limit=100').expect(200);
      expect(all.body.items[0].name).toBe('Aaa First');
      // A cached list that neither shows the character nor is ordered by name stays cached.
      const after = await counted(() => t.http.get(unrelated).expect(200));
      expect(after.queries).toBe(0);
      expect(after.res.headers['x-cache']).toBe('HIT-L1');
    });

    it('image upload and delete → the gallery, the user’s images and the character detail', async () => {
      const c = await createCharacter(t, owner);
      const gallery = () => t.http.get(`/characters/${c.id}/images`).expect(200);
      const uploads = () => t.http.get(`/users/${owner.username}/characters/${c.id}/images`).expect(200);
      expect((await gallery()).body.total).toBe(0);
      expect((await uploads()).body.total).toBe(0);
      expect((await t.http.get(`/characters/${c.id}`).expect(200)).body.imageCount).toBe(0);

      const image = await t.http
        .post(`/characters/${c.id}/images`)
        .set(owner.auth)
        .attach('file', png(), { filename: 'a.png', contentType: 'image/png' })
        .expect(201);
      expect(listIds((await gallery()).body)).toEqual([image.body.id]);
      expect(listIds((await uploads()).body)).toEqual([image.body.id]);
      const detail = (await t.http.get(`/characters/${c.id}`).expect(200)).body;
      expect(detail).toMatchObject({ imageCount: 1, avatarImageId: image.body.id });

      await t.http.delete(`/images/${image.body.id}`).set(owner.auth).expect(204);
      expect((await gallery()).body.total).toBe(0);
      expect((await uploads()).body.total).toBe(0);
      expect((await t.http.get(`/characters/${c.id}`).expect(200)).body).toMatchObject({ imageCount: 0, avatarImageId: null });
      await t.http.get(`/images/${image.body.id}`).expect(404);
    });

    it('gallery responses preload their first images', async () => {
      const c = await createCharacter(t, owner);
      for (let i = 0; i < 4; i++) {
        await t.http.post(`/characters/${c.id}/images`).set(owner.auth).attach('file', png(), { filename: 'a.png', contentType: 'image/png' }).expect(201);
      }
      const res = await t.http.get(`/characters/${c.id}/images`).expect(200);
      const links = String(res.headers.link).split(', ');
      expect(links).toHaveLength(3);
      expect(links[0]).toBe(`<${res.body.items[0].variants.card}>; rel=preload; as=image`);
    });

    it('preference change → the viewer’s rights and own profile change on the very next request', async () => {
      const user = await createUser(t);
      const nsfw = await createCharacter(t, owner, { nsfw: true, tags: ['prefcache'] });
      expect((await t.http.get('/characters?tag=prefcache').set(user.auth).expect(200)).body.total).toBe(0);
      expect((await t.http.get('/users/me').set(user.auth).expect(200)).body.preferences.showNsfw).toBe(false);
      await t.http.patch('/users/me/preferences').set(user.auth).send({ showNsfw: true }).expect(200);
      expect((await t.http.get('/users/me').set(user.auth).expect(200)).body.preferences.showNsfw).toBe(true);
      expect(listIds((await t.http.get('/characters?tag=prefcache').set(user.auth).expect(200)).body)).toEqual([nsfw.id]);
    });

    it('subscription change (signed webhook) → premium content unlocks at once', async () => {
      const user = await createUser(t);
      const premium = await createCharacter(t, owner, { premium: true });
      await t.http.get(`/characters/${premium.id}`).set(user.auth).expect(404);
      const body = JSON.stringify({
        id: 'evt_cache',
        type: 'subscription.updated',
        occurredAt: new Date().toISOString(),
        userId: user.id,
        subscription: { tier: 'pro', status: 'active' },
      });
      const signature = `sha256=${createHmac('sha256', BILLING_SECRET).update(body).digest('hex')}`;
      await t.http.post('/webhooks/billing').set('Content-Type', 'application/json').set('X-Signature', signature).send(body).expect(200);
      await t.http.get(`/characters/${premium.id}`).set(user.auth).expect(200);
      expect((await t.http.get('/users/me').set(user.auth).expect(200)).body.subscription.tier).toBe('pro');
    });

    it('generation result recorded → the job’s entry', async () => {
      const c = await createCharacter(t, owner);
      const job = (await t.http.post(`/characters/${c.id}/generations`).set(owner.auth).send({ prompt: 'a portrait' }).expect(202)).body;
      expect((await t.http.get(`/generations/${job.id}`).set(owner.auth).expect(200)).body.status).toBe('queued');
      const warm = await counted(() => t.http.get(`/generations/${job.id}`).set(owner.auth).expect(200));
      const callback = JSON.stringify({ status: 'succeeded', images: [{ storageKey: 'gen/out.png', width: 512, height: 512 }], seed: 1 });
      const signature = `sha256=${createHmac('sha256', GENERATOR_SECRET).update(callback).digest('hex')}`;
      await t.http.post(callbackPath(GENERATOR_SECRET, job.id)).set('Content-Type', 'application/json').set('X-Signature', signature).send(callback).expect(200);
      const after = await counted(() => t.http.get(`/generations/${job.id}`).set(owner.auth).expect(200));
      expect(after.res.body.status).toBe('succeeded');
      expect(after.queries).toBeGreaterThan(warm.queries);
    });

    it('another instance sees a write over the bus, though its L1 copy had minutes to live', async () => {
      const c = await createCharacter(t, owner, { name: 'Two Instances' });
      const second = await bootTestApp({ DATABASE_URL: t.databaseUrl, REDIS_URL: redis.url });
      try {
        // Until its L1 holds the entry (a bus message about the creation may still land after its first read).
        await eventually(async () => (await second.http.get(`/characters/${c.id}`).expect(200)).headers['x-cache'] === 'HIT-L1');
        await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ name: 'Renamed Elsewhere' }).expect(200);
        await eventually(async () => (await second.http.get(`/characters/${c.id}`).expect(200)).body.name === 'Renamed Elsewhere');
      } finally {
        await second.close();
      }
    });
  });

  // UUIDs are accepted in any case; cache keys and tags are strings, built by writes from the rows' lower-case ids.
  describe('an upper-case UUID reads and evicts the same entries as its lower-case form', () => {
    const upload = (characterId: string) =>
      t.http
        .post(`/characters/${characterId}/images`)
        .set(owner.auth)
        .attach('file', png(), { filename: 'a.png', contentType: 'image/png' })
        .expect(201);

    /** Posts a webhook body signed with `secret`, as the billing provider or the generator does. */
    const signedPost = (path: string, secret: string, payload: object) => {
      const body = JSON.stringify(payload);
      const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      return t.http.post(path).set('Content-Type', 'application/json').set('X-Signature', signature).send(body);
    };

    it('a character made private is hidden at its upper-case URL too', async () => {
      const c = await createCharacter(t, owner, { name: 'Soon Private' });
      const upper = c.id.toUpperCase();
      await t.http.get(`/characters/${upper}`).expect(200);
      await t.http.patch(`/characters/${c.id}`).set(owner.auth).send({ visibility: 'private', name: 'Renamed' }).expect(200);
      await t.http.get(`/characters/${c.id}`).expect(404);
      const res = await t.http.get(`/characters/${upper}`);
      expect({ status: res.status, name: res.body.name }).toEqual({ status: 404, name: undefined });
    });

    it('an upload through an upper-case URL refreshes the gallery and the detail', async () => {
      const c = await createCharacter(t, owner, { name: 'Gallery Case' });
      await t.http.get(`/characters/${c.id}/images`).expect(200);
      await t.http.get(`/characters/${c.id}`).expect(200);
      await upload(c.id.toUpperCase());
      const gallery = await counted(() => t.http.get(`/characters/${c.id}/images`).expect(200));
      const detail = await t.http.get(`/characters/${c.id}`).expect(200);
      expect(gallery.queries).toBeGreaterThan(0);
      expect({ galleryTotal: gallery.res.body.total, imageCount: detail.body.imageCount }).toEqual({ galleryTotal: 1, imageCount: 1 });
    });

    it('an image deleted through an upper-case URL is gone at its lower-case URL', async () => {
      const c = await createCharacter(t, owner, { name: 'Delete Case' });
      const image = await upload(c.id);
      await t.http.get(`/images/${image.body.id}`).expect(200);
      await t.http.delete(`/images/${image.body.id.toUpperCase()}`).set(owner.auth).expect(204);
      const { rows } = await t.db.query('SELECT count(*)::int AS n FROM images WHERE id = $1', [image.body.id]);
      expect(rows[0].n).toBe(0);
      await t.http.get(`/images/${image.body.id}`).expect(404);
    });

    it('a bulk update naming the characters in upper case applies, evicts, and counts one id once', async () => {
      const c = await createCharacter(t, owner, { tags: ['bulkupper'] });
      expect(listIds((await t.http.get('/characters?tag=bulkupper').expect(200)).body)).toEqual([c.id]);
      const twice = await t.http
        .post('/characters/bulk')
        .set(owner.auth)
        .send({ ids: [c.id, c.id.toUpperCase()], set: { visibility: 'private' } })
        .expect(400);
      expect(twice.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'ids' }] });
      const res = await t.http
        .post('/characters/bulk')
        .set(owner.auth)
        .send({ ids: [c.id.toUpperCase()], set: { visibility: 'private' } })
        .expect(200);
      expect(res.body.items).toEqual([{ id: c.id, version: 2 }]);
      expect((await t.http.get('/characters?tag=bulkupper').expect(200)).body.total).toBe(0);
    });

    it('a billing event naming the user in upper case unlocks premium content at once', async () => {
      const user = await createUser(t);
      const premium = await createCharacter(t, owner, { premium: true });
      await t.http.get(`/characters/${premium.id}`).set(user.auth).expect(404);
      await signedPost('/webhooks/billing', BILLING_SECRET, {
        id: 'evt_upper',
        type: 'subscription.updated',
        occurredAt: new Date().toISOString(),
        userId: user.id.toUpperCase(),
        subscription: { tier: 'pro', status: 'active' },
      }).expect(200);
      await t.http.get(`/characters/${premium.id}`).set(user.auth).expect(200);
    });

    it('a generation result posted to an upper-case job URL refreshes the job’s entry', async () => {
      const c = await createCharacter(t, owner);
      const job = (await t.http.post(`/characters/${c.id}/generations`).set(owner.auth).send({ prompt: 'a portrait' }).expect(202)).body;
      expect((await t.http.get(`/generations/${job.id}`).set(owner.auth).expect(200)).body.status).toBe('queued');
      await signedPost(callbackPath(GENERATOR_SECRET, job.id.toUpperCase()), GENERATOR_SECRET, {
        status: 'failed',
        error: 'out of memory',
      }).expect(200);
      expect((await t.http.get(`/generations/${job.id}`).set(owner.auth).expect(200)).body.status).toBe('failed');
    });
  });
});
