import { CacheService } from '../src/cache';
import { createUser, TestUser } from './support/fixtures';
import { png } from './support/images';
import { OwnRedis } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';

/** Deterministic, so a failing interleaving can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), s | 1);
    r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

type ViewerName = 'anonymous' | 'free' | 'freeNsfw' | 'plus' | 'proNsfw' | 'ownerA' | 'ownerB' | 'admin';

interface ViewerFacts {
  id: string | null;
  admin: boolean;
  nsfw: boolean;
  premium: boolean;
}

/**
 * Viewers of every class read every cached endpoint in random order, cold and warm, while owners now and then
 * change their characters; each answer is compared with what the database says that viewer may see at that
 * moment. The rules are written out again here, in SQL, independently of the service's code.
 */
describe('no viewer ever gets another viewer’s answer', () => {
  jest.setTimeout(120_000);
  let redis: OwnRedis;
  let t: TestApp;
  const users = {} as Record<ViewerName, TestUser | null>;
  const characterIds: string[] = [];
  const imageIds: string[] = [];

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await bootTestApp({ REDIS_URL: redis.url });
    users.anonymous = null;
    users.free = await createUser(t);
    users.freeNsfw = await createUser(t, { showNsfw: true });
    users.plus = await createUser(t, { tier: 'plus' });
    users.proNsfw = await createUser(t, { tier: 'pro', showNsfw: true });
    users.ownerA = await createUser(t);
    users.ownerB = await createUser(t, { tier: 'plus' });
    users.admin = await createUser(t, { role: 'admin' });
    for (const owner of [users.ownerA, users.ownerB]) {
      for (const visibility of ['public', 'unlisted', 'private']) {
        for (const nsfw of [false, true]) {
          for (const premium of [false, true]) {
            const res = await t.http
              .post('/characters')
              .set(owner.auth)
              .send({ name: `${visibility} ${nsfw ? 'nsfw' : 'sfw'} ${premium ? 'premium' : 'basic'}`, visibility, nsfw, premium, tags: ['iso'] })
              .expect(201);
            characterIds.push(res.body.id);
            for (const imageNsfw of ['false', 'true']) {
              const image = await t.http
                .post(`/characters/${res.body.id}/images`)
                .set(owner.auth)
                .field('nsfw', imageNsfw)
                .attach('file', png(), { filename: 'i.png', contentType: 'image/png' })
                .expect(201);
              imageIds.push(image.body.id);
            }
          }
        }
      }
    }
    await t.db.query(`UPDATE characters SET featured = true, featured_rank = 1 WHERE id = ANY($1::uuid[])`, [characterIds.filter((_, i) => i % 3 === 0)]);
    // The direct UPDATE bypassed the app: start from an empty cache so no entry predates it.
    await t.app.get(CacheService).invalidateTags(['chl:public', ...characterIds.map((id) => `character:${id}`)]);
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  async function facts(name: ViewerName): Promise<ViewerFacts> {
    const user = users[name];
    if (!user) {
      return { id: null, admin: false, nsfw: false, premium: false };
    }
    const { rows } = await t.db.query(
      `SELECT role, (preferences->>'showNsfw')::boolean AS nsfw, subscription_tier, subscription_status FROM users WHERE id = $1`,
      [user.id],
    );
    const admin = rows[0].role === 'admin';
    const premium = admin || (rows[0].subscription_tier !== 'free' && rows[0].subscription_status !== 'canceled');
    return { id: user.id, admin, nsfw: rows[0].nsfw, premium };
  }

  /** Who may open a character, as SQL over alias c. */
  const canOpen = (v: ViewerFacts) =>
    v.admin
      ? 'TRUE'
      : `(c.owner_id = ${v.id ? `'${v.id}'` : 'NULL'} OR (c.visibility <> 'private' AND (NOT c.nsfw OR ${v.nsfw}) AND (NOT c.premium OR ${v.premium})))`;
  const listed = (v: ViewerFacts) => `c.visibility = 'public' AND (NOT c.nsfw OR ${v.nsfw}) AND (NOT c.premium OR ${v.premium})`;

  async function expected(path: string, v: ViewerFacts): Promise<{ status: number; ids?: string[] }> {
    const q = async (sql: string, params: unknown[] = []) => (await t.db.query<{ id: string }>(sql, params)).rows.map((r) => r.id);
    let m: RegExpExecArray | null;
    if ((m = /^\/characters\?mode=(all|new|popular)&tag=iso&limit=100$/.exec(path))) {
      return { status: 200, ids: (await q(`SELECT id FROM characters c WHERE ${listed(v)} AND 'iso' = ANY(c.tags)`)).sort() };
    }
    if (path === '/characters/featured' || path === '/characters?mode=featured&limit=100') {
      return { status: 200, ids: (await q(`SELECT id FROM characters c WHERE ${listed(v)} AND c.featured`)).sort() };
    }
    if (path === '/characters?mode=mine&limit=100') {
      return v.id ? { status: 200, ids: (await q(`SELECT id FROM characters c WHERE c.owner_id = $1`, [v.id])).sort() } : { status: 401 };
    }
    if ((m = /^\/characters\/([\w-]+)\/images\?limit=100$/.exec(path))) {
      const open = await q(`SELECT id FROM characters c WHERE c.id = $1 AND ${canOpen(v)}`, [m[1]]);
      if (open.length === 0) {
        return { status: 404 };
      }
      return {
        status: 200,
        ids: (
          await q(
            `SELECT i.id FROM images i JOIN characters c ON c.id = i.character_id
             WHERE i.character_id = $1 AND (NOT i.nsfw OR ${v.nsfw} OR ${v.admin} OR c.owner_id = ${v.id ? `'${v.id}'` : 'NULL'})`,
            [m[1]],
          )
        ).sort(),
      };
    }
    if ((m = /^\/characters\/([\w-]+)$/.exec(path))) {
      return { status: (await q(`SELECT id FROM characters c WHERE c.id = $1 AND ${canOpen(v)}`, [m[1]])).length ? 200 : 404 };
    }
    if ((m = /^\/images\/([\w-]+)$/.exec(path))) {
      const ok = await q(
        `SELECT i.id FROM images i JOIN characters c ON c.id = i.character_id
         WHERE i.id = $1 AND ${canOpen(v)} AND (NOT i.nsfw OR ${v.nsfw} OR ${v.admin} OR c.owner_id = ${v.id ? `'${v.id}'` : 'NULL'})`,
        [m[1]],
      );
      return { status: ok.length ? 200 : 404 };
    }
    throw new Error(`no oracle for ${path}`);
  }

  it('matches the database for every viewer, endpoint and interleaving', async () => {
    const random = rng(20261124);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
    const viewers = Object.keys(users) as ViewerName[];
    const paths = () => [
      ...['all', 'new', 'popular'].map((mode) => `/characters?mode=${mode}&tag=iso&limit=100`),
      '/characters?mode=featured&limit=100',
      '/characters/featured',
      '/characters?mode=mine&limit=100',
      ...characterIds.map((id) => `/characters/${id}`),
      ...characterIds.map((id) => `/characters/${id}/images?limit=100`),
      ...imageIds.map((id) => `/images/${id}`),
    ];
    const failures: string[] = [];
    let checked = 0;
    for (const phase of ['cold', 'warm', 'with writes']) {
      for (let step = 0; step < 250; step++) {
        if (phase === 'with writes' && step % 10 === 0) {
          // An owner flips one of their characters; the oracle reads the database, so it follows at once.
          const owner = pick(['ownerA', 'ownerB'] as const);
          const { rows } = await t.db.query(`SELECT id, nsfw FROM characters WHERE owner_id = $1 ORDER BY random() LIMIT 1`, [users[owner]!.id]);
          await t.http.patch(`/characters/${rows[0].id}`).set(users[owner]!.auth).send({ nsfw: !rows[0].nsfw, visibility: pick(['public', 'unlisted', 'private']) }).expect(200);
        }
        const viewer = pick(viewers);
        const path = pick(paths());
        const req = t.http.get(path);
        const res = await (users[viewer] ? req.set(users[viewer].auth) : req);
        const want = await expected(path, await facts(viewer));
        const got = res.status === 200 && want.ids ? (res.body.items as { id: string }[]).map((i) => i.id).sort() : undefined;
        checked++;
        if (res.status !== want.status || JSON.stringify(got) !== JSON.stringify(want.ids)) {
          failures.push(`${phase} ${viewer} ${path}: got ${res.status} ${JSON.stringify(got)}, want ${want.status} ${JSON.stringify(want.ids)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBe(750);
  });
});
