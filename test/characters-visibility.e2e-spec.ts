import { createUser, TestUser } from './support/fixtures';
import { bootTestApp, TestApp } from './support/test-app';

type Kind = 'public' | 'unlisted' | 'private' | 'nsfw' | 'premium' | 'nsfwPremium' | 'featured' | 'featuredNsfw';
type ViewerName = 'anonymous' | 'free' | 'freeNsfw' | 'plus' | 'proNsfw' | 'owner' | 'admin';

const KINDS: Record<Kind, { visibility: string; nsfw: boolean; premium: boolean; featured: boolean }> = {
  public: { visibility: 'public', nsfw: false, premium: false, featured: false },
  unlisted: { visibility: 'unlisted', nsfw: false, premium: false, featured: false },
  private: { visibility: 'private', nsfw: false, premium: false, featured: false },
  nsfw: { visibility: 'public', nsfw: true, premium: false, featured: false },
  premium: { visibility: 'public', nsfw: false, premium: true, featured: false },
  nsfwPremium: { visibility: 'public', nsfw: true, premium: true, featured: false },
  featured: { visibility: 'public', nsfw: false, premium: false, featured: true },
  featuredNsfw: { visibility: 'public', nsfw: true, premium: false, featured: true },
};

/**
 * The rules written out as a table, independently of the service's code: which kinds each viewer finds in
 * public lists, and which they can open by id.
 */
const LISTED: Record<ViewerName, Kind[]> = {
  anonymous: ['public', 'featured'],
  free: ['public', 'featured'],
  freeNsfw: ['public', 'nsfw', 'featured', 'featuredNsfw'],
  plus: ['public', 'premium', 'featured'],
  proNsfw: ['public', 'nsfw', 'premium', 'nsfwPremium', 'featured', 'featuredNsfw'],
  // The owner browses public lists like a free viewer without nsfw (their own hidden ones are under mode=mine).
  owner: ['public', 'featured'],
  admin: ['public', 'premium', 'featured'],
};
const OPENABLE: Record<ViewerName, Kind[]> = {
  anonymous: ['public', 'unlisted', 'featured'],
  free: ['public', 'unlisted', 'featured'],
  freeNsfw: ['public', 'unlisted', 'nsfw', 'featured', 'featuredNsfw'],
  plus: ['public', 'unlisted', 'premium', 'featured'],
  proNsfw: ['public', 'unlisted', 'nsfw', 'premium', 'nsfwPremium', 'featured', 'featuredNsfw'],
  owner: Object.keys(KINDS) as Kind[],
  admin: Object.keys(KINDS) as Kind[],
};

describe('character visibility across viewer classes', () => {
  let t: TestApp;
  const viewers = {} as Record<ViewerName, TestUser | null>;
  const ids = {} as Record<Kind, string>;
  const kindOf = new Map<string, Kind>();

  beforeAll(async () => {
    t = await bootTestApp();
    viewers.anonymous = null;
    viewers.free = await createUser(t);
    viewers.freeNsfw = await createUser(t, { showNsfw: true });
    viewers.plus = await createUser(t, { tier: 'plus' });
    viewers.proNsfw = await createUser(t, { tier: 'pro', showNsfw: true });
    viewers.owner = await createUser(t);
    viewers.admin = await createUser(t, { role: 'admin' });
    let rank = 0;
    for (const [kind, k] of Object.entries(KINDS) as [Kind, (typeof KINDS)[Kind]][]) {
      const { rows } = await t.db.query<{ id: string }>(
        `INSERT INTO characters (owner_id, name, visibility, nsfw, premium, featured, featured_rank, tags)
         VALUES ($1, $2, $3, $4, $5, $6, $7, '{matrix}') RETURNING id`,
        [viewers.owner.id, `${kind} character`, k.visibility, k.nsfw, k.premium, k.featured, k.featured ? ++rank : null],
      );
      ids[kind] = rows[0].id;
      kindOf.set(rows[0].id, kind);
    }
  });
  afterAll(() => t.close());

  const get = (path: string, viewer: ViewerName) => {
    const req = t.http.get(path);
    const user = viewers[viewer];
    return user ? req.set(user.auth) : req;
  };
  const kinds = (items: { id: string }[]) => items.map((i) => kindOf.get(i.id)).sort();

  const viewerNames = Object.keys(LISTED) as ViewerName[];

  it.each(viewerNames)('lists exactly what %s may see, in every public mode', async (viewer) => {
    for (const mode of ['all', 'new', 'popular']) {
      const res = await get(`/characters?mode=${mode}&limit=100`, viewer).expect(200);
      expect(kinds(res.body.items)).toEqual([...LISTED[viewer]].sort());
      expect(res.body.total).toBe(LISTED[viewer].length);
    }
    const featured = await get('/characters?mode=featured', viewer).expect(200);
    expect(kinds(featured.body.items)).toEqual(LISTED[viewer].filter((k) => KINDS[k].featured).sort());
    const featuredRoute = await get('/characters/featured', viewer).expect(200);
    expect(kinds(featuredRoute.body.items)).toEqual(kinds(featured.body.items));
    const tagged = await get('/characters?tag=matrix&limit=100', viewer).expect(200);
    expect(kinds(tagged.body.items)).toEqual([...LISTED[viewer]].sort());
  });

  it.each(viewerNames)('opens by id exactly what %s may see (404 otherwise)', async (viewer) => {
    for (const kind of Object.keys(KINDS) as Kind[]) {
      const expected = OPENABLE[viewer].includes(kind) ? 200 : 404;
      const res = await get(`/characters/${ids[kind]}`, viewer);
      expect({ kind, status: res.status }).toEqual({ kind, status: expected });
    }
  });

  it('shows the owner every one of their characters under mode=mine, and nobody else’s', async () => {
    const res = await get('/characters?mode=mine&limit=100', 'owner').expect(200);
    expect(kinds(res.body.items)).toEqual((Object.keys(KINDS) as Kind[]).sort());
    const others = await get('/characters?mode=mine', 'free').expect(200);
    expect(others.body.items).toEqual([]);
  });

  it('refuses mode=mine to anonymous callers', async () => {
    const res = await get('/characters?mode=mine', 'anonymous').expect(401);
    expect(res.body.code).toBe('AUTH_REQUIRED');
  });

  it('follows preference and subscription changes on the very next request', async () => {
    const user = viewers.free!;
    await t.http.patch('/users/me/preferences').set(user.auth).send({ showNsfw: true }).expect(200);
    const res = await t.http.get(`/characters/${ids.nsfw}`).set(user.auth);
    expect(res.status).toBe(200);
    await t.http.patch('/users/me/preferences').set(user.auth).send({ showNsfw: false }).expect(200);
    await t.http.get(`/characters/${ids.nsfw}`).set(user.auth).expect(404);
  });
});

describe('character lists: order, filters and pagination', () => {
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    t = await bootTestApp();
    owner = await createUser(t);
    // 25 public characters with distinct names, ages, image counts and ranks.
    await t.db.query(
      `INSERT INTO characters (owner_id, name, description, tags, created_at, image_count, featured, featured_rank)
       SELECT $1, 'Name ' || lpad(g::text, 2, '0'), CASE WHEN g % 5 = 0 THEN 'a dragon rider' ELSE 'a quiet scholar' END,
              CASE WHEN g % 2 = 0 THEN '{even,all}'::text[] ELSE '{odd,all}'::text[] END,
              now() - (g || ' hours')::interval, (g * 7) % 25, g <= 4, CASE WHEN g <= 4 THEN 5 - g END
       FROM generate_series(1, 25) g`,
      [owner.id],
    );
  });
  afterAll(() => t.close());

  it('orders each mode as documented', async () => {
    const names = async (q: string) =>
      ((await t.http.get(`/characters?${q}&limit=100`).expect(200)).body.items as { name: string }[]).map((i) => i.name);
    expect(await names('mode=all')).toEqual([...(await names('mode=all'))].sort());
    expect((await names('mode=new'))[0]).toBe('Name 01');
    const popular = (await t.http.get('/characters?mode=popular&limit=100').expect(200)).body.items as { imageCount: number }[];
    expect(popular.map((i) => i.imageCount)).toEqual([...popular.map((i) => i.imageCount)].sort((a, b) => b - a));
    expect(await names('mode=featured')).toEqual(['Name 04', 'Name 03', 'Name 02', 'Name 01']);
  });

  it('filters by tag and by words in name and description', async () => {
    const even = await t.http.get('/characters?tag=even&limit=100').expect(200);
    expect(even.body.total).toBe(12);
    const dragons = await t.http.get('/characters?q=DRAG&limit=100').expect(200);
    expect(dragons.body.total).toBe(5);
    const both = await t.http.get('/characters?q=dragon&tag=odd').expect(200);
    expect(both.body.items.map((i: { name: string }) => i.name).sort()).toEqual(['Name 05', 'Name 15', 'Name 25']);
    const nothing = await t.http.get('/characters?q=zzzz').expect(200);
    expect(nothing.body).toMatchObject({ items: [], total: 0, hasNext: false });
  });

  it('pages without overlap or gaps, and says when there is more', async () => {
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const res = await t.http.get(`/characters?mode=new&page=${page}&limit=10`).expect(200);
      expect(res.body).toMatchObject({ page, limit: 10, total: 25, hasNext: page < 3 });
      seen.push(...res.body.items.map((i: { id: string }) => i.id));
    }
    expect(new Set(seen).size).toBe(25);
    const beyond = await t.http.get('/characters?page=4&limit=10').expect(200);
    expect(beyond.body).toMatchObject({ items: [], total: 25, hasNext: false });
    const exact = await t.http.get('/characters?page=1&limit=25').expect(200);
    expect(exact.body.hasNext).toBe(false);
    const defaults = await t.http.get('/characters').expect(200);
    expect(defaults.body).toMatchObject({ page: 1, limit: 20, hasNext: true });
    expect(defaults.body.items).toHaveLength(20);
  });
});
