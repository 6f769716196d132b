import { DataSource, SelectQueryBuilder } from 'typeorm';
import { ANONYMOUS, Viewer } from '../src/auth/viewer';
import { CharactersService } from '../src/characters/characters.service';
import { ListCharactersQuery, ListMode } from '../src/characters/dto/list-characters.query';
import { Character } from '../src/characters/entities/character.entity';
import { seedDatabase } from '../src/database/seed/seeder';
import { bootTestApp, TestApp } from './support/test-app';

/**
 * Every list query the API can send, EXPLAINed on a realistic data set (1 k users, 10 k characters, 50 k images;
 * seedDatabase ends with VACUUM ANALYZE). What is checked is the plan PostgreSQL picks for the exact SQL the
 * service builds, so a change to the query or to the indexes that loses an index shows up here.
 */

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Plan Rows': number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** A compact one-line rendering, so a failing assertion shows the plan it judged. */
function render(plan: PlanNode): string {
  const self = `${plan['Node Type']}${plan['Index Name'] ? ` ${plan['Index Name']}` : ''}${
    plan['Relation Name'] ? ` on ${plan['Relation Name']}` : ''
  } (${plan['Plan Rows']})`;
  return plan.Plans ? `${self} [${plan.Plans.map(render).join(', ')}]` : self;
}

const seqScansOf = (plan: PlanNode, table: string): PlanNode[] =>
  nodes(plan).filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === table);

const indexesUsed = (plan: PlanNode, prefix: string): string[] =>
  [...new Set(nodes(plan).flatMap((n) => n['Index Name'] ?? []))]
    .filter((name) => name.startsWith(prefix))
    .sort();

/** Index scans that hand rows over in index order (a bitmap scan does not). */
const orderedScans = (plan: PlanNode, table: string): string[] =>
  nodes(plan)
    .filter((n) => /^Index (Only )?Scan$/.test(n['Node Type']) && n['Relation Name'] === table)
    .map((n) => n['Index Name']!);

const sorts = (plan: PlanNode): PlanNode[] => nodes(plan).filter((n) => /Sort/.test(n['Node Type']));

/** The index each list mode's order comes from (src/database/migrations/1764000000000-init.ts). */
const ORDER_INDEX: Record<ListMode, string> = {
  all: 'characters_public_name_idx',
  new: 'characters_public_created_idx',
  popular: 'characters_public_popular_idx',
  featured: 'characters_featured_idx',
  mine: 'characters_owner_created_idx',
};
/** Popular lists of viewers who do not see nsfw images go by their sfw images (1764400000000-sfw-image-count.ts). */
const orderIndex = (mode: ListMode, viewer: Viewer): string =>
  mode === 'popular' && !viewer.showNsfw ? 'characters_public_popular_sfw_idx' : ORDER_INDEX[mode];

const SEED = { users: 1_000, characters: 10_000, images: 50_000, seed: 11 };

describe('query plans on 10 k characters / 50 k images', () => {
  let t: TestApp;
  let db: DataSource;
  let characters: CharactersService;
  let total: number;
  let heavyOwner: string;
  let lightOwner: string;
  let commonTag: string;
  let rareTag: string;
  let heavyCharacter: { id: string; owner_id: string };
  let lightCharacter: { id: string; owner_id: string };

  beforeAll(async () => {
    t = await bootTestApp();
    db = t.app.get(DataSource);
    characters = t.app.get(CharactersService);
    // The one seed call also vacuums and analyzes, so the planner has real statistics.
    await seedDatabase(db, SEED, 'not-a-real-hash');
    [{ total }] = await db.query<{ total: number }[]>(`SELECT count(*)::int AS total FROM characters`);
    const owners = await db.query<{ owner_id: string }[]>(
      `SELECT owner_id FROM characters GROUP BY owner_id ORDER BY count(*) DESC, owner_id`,
    );
    heavyOwner = owners[0].owner_id;
    lightOwner = owners[owners.length - 1].owner_id;
    const tags = await db.query<{ tag: string }[]>(
      `SELECT tag FROM characters, unnest(tags) AS tag GROUP BY tag ORDER BY count(*) DESC, tag`,
    );
    commonTag = tags[0].tag;
    rareTag = tags[tags.length - 1].tag;
    [heavyCharacter] = await db.query(
      `SELECT id, owner_id FROM characters ORDER BY image_count DESC, id LIMIT 1`,
    );
    [lightCharacter] = await db.query(
      `SELECT id, owner_id FROM characters WHERE image_count = 1 ORDER BY id LIMIT 1`,
    );
  }, 120_000);

  afterAll(() => t.close());

  async function explain(sql: string, parameters: unknown[]): Promise<PlanNode> {
    const [row] = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(
      `EXPLAIN (FORMAT JSON) ${sql}`,
      parameters,
    );
    return row['QUERY PLAN'][0].Plan;
  }

  /** What list() sends for page `page`. */
  function listSql(query: ListCharactersQuery, viewer: Viewer): [string, unknown[]] {
    const [sql, parameters] = characters
      .listQuery(query, viewer)
      .offset((query.page - 1) * query.limit)
      .limit(query.limit)
      .getQueryAndParameters();
    return [sql, parameters as unknown[]];
  }

  /** The SQL `qb.clone().getCount()` really sends, captured from the query runner rather than re-created. */
  async function countSql(qb: SelectQueryBuilder<Character>): Promise<[string, unknown[]]> {
    const runner = db.createQueryRunner();
    const spy = jest.spyOn(runner, 'query');
    try {
      await qb.clone().setQueryRunner(runner).getCount();
    } finally {
      await runner.release();
    }
    expect(spy).toHaveBeenCalledTimes(1);
    const [sql, parameters] = spy.mock.calls[0];
    return [sql, (parameters as unknown[] | undefined) ?? []];
  }

  const query = (mode: ListMode, extra: Partial<ListCharactersQuery> = {}): ListCharactersQuery =>
    Object.assign(new ListCharactersQuery(), { mode, page: 1, limit: 20 }, extra);

  const VIEWERS: Record<string, () => Viewer> = {
    anonymous: () => ANONYMOUS,
    'nsfw-allowed': () => ({ userId: lightOwner, role: 'user', showNsfw: true, tier: 'free' }),
    plus: () => ({ userId: lightOwner, role: 'user', showNsfw: false, tier: 'plus' }),
  };
  const owner = (userId: string): Viewer => ({ userId, role: 'user', showNsfw: false, tier: 'free' });

  type Filter = 'none' | 'common tag' | 'rare tag' | 'selective q' | 'broad q';
  const FILTERS: Filter[] = ['none', 'common tag', 'rare tag', 'selective q', 'broad q'];
  const filter = (f: Filter): Partial<ListCharactersQuery> => {
    switch (f) {
      case 'none':
        return {};
      case 'common tag':
        return { tag: commonTag };
      case 'rare tag':
        return { tag: rareTag };
      // A name syllable: a few dozen of 10 k characters have a word starting with it.
      case 'selective q':
        return { q: 'dra' };
      // In most descriptions.
      case 'broad q':
        return { q: 'the' };
    }
  };

  const PUBLIC_MODES: ListMode[] = ['all', 'new', 'popular', 'featured'];
  const SHAPES: [ListMode, string, Filter][] = [
    ...PUBLIC_MODES.flatMap((mode) =>
      Object.keys(VIEWERS).flatMap((viewer) =>
        FILTERS.map((f): [ListMode, string, Filter] => [mode, viewer, f]),
      ),
    ),
    ...FILTERS.flatMap((f): [ListMode, string, Filter][] => [
      ['mine', 'heavy owner', f],
      ['mine', 'light owner', f],
    ]),
  ];
  const viewerFor = (name: string): Viewer =>
    name === 'heavy owner' ? owner(heavyOwner) : name === 'light owner' ? owner(lightOwner) : VIEWERS[name]();

  it.each(SHAPES)(
    'mode=%s for %s, filter %s: characters are reached through an index',
    async (mode, viewer, f) => {
      const plan = await explain(...listSql(query(mode, filter(f)), viewerFor(viewer)));
      const problems = [
        ...seqScansOf(plan, 'characters').map(() => 'a Seq Scan on characters'),
        ...(indexesUsed(plan, 'characters_').length === 0 ? ['no index on characters'] : []),
        // A sort is fine over the few rows a selective index found; never over (a large part of) the table.
        ...sorts(plan)
          .filter((sort) => sort['Plan Rows'] >= total * 0.05)
          .map((sort) => `a sort of ${sort['Plan Rows']} rows`),
      ];
      expect(problems.map((p) => `${p} in ${render(plan)}`)).toEqual([]);
    },
  );

  const ORDERED_SHAPES: [ListMode, string][] = [
    ...PUBLIC_MODES.flatMap((m) => Object.keys(VIEWERS).map((v): [ListMode, string] => [m, v])),
    ['mine', 'heavy owner'],
  ];

  it.each(ORDERED_SHAPES)(
    'mode=%s for %s, page 1: the order comes from its index, with no sort',
    async (mode, viewer) => {
      const plan = await explain(...listSql(query(mode), viewerFor(viewer)));
      expect({
        ordered: orderedScans(plan, 'characters'),
        sorts: sorts(plan).length,
        plan: render(plan),
      }).toEqual({
        ordered: [orderIndex(mode, viewerFor(viewer))],
        sorts: 0,
        plan: render(plan),
      });
    },
  );

  it('mode=new, page 50: a deep page still walks the index instead of sorting the table', async () => {
    const plan = await explain(...listSql(query('new', { page: 50 }), ANONYMOUS));
    expect({ ordered: orderedScans(plan, 'characters'), sorts: sorts(plan).length }).toEqual({
      ordered: [ORDER_INDEX.new],
      sorts: 0,
    });
  });

  it('mode=mine for an owner with a handful of characters uses the owner index', async () => {
    const plan = await explain(...listSql(query('mine'), owner(lightOwner)));
    expect(indexesUsed(plan, 'characters_')).toEqual([ORDER_INDEX.mine]);
  });

  /**
   * The count behind `total`. Filtered by owner, featured, tag or q it must come from an index. Unfiltered
   * all/new/popular count 70-85 % of the table: there PostgreSQL rightly reads the table sequentially (an index
   * would visit nearly every page anyway), so those shapes assert that a sequential scan only appears when the
   * scan really keeps most of the table.
   */
  it.each(SHAPES)('count for mode=%s, %s, filter %s', async (mode, viewer, f) => {
    const plan = await explain(
      ...(await countSql(characters.listQuery(query(mode, filter(f)), viewerFor(viewer)))),
    );
    const selective = mode === 'mine' || mode === 'featured' || f !== 'none';
    const seq = seqScansOf(plan, 'characters');
    const problems = selective
      ? [
          ...seq.map(() => 'a Seq Scan on characters'),
          ...(indexesUsed(plan, 'characters_').length === 0 ? ['no index on characters'] : []),
        ]
      : seq
          .filter((scan) => scan['Plan Rows'] <= total * 0.5)
          .map((scan) => `a Seq Scan keeping ${scan['Plan Rows']} rows`);
    expect(problems.map((p) => `${p} in ${render(plan)}`)).toEqual([]);
  });

  describe('image galleries', () => {
    const GALLERY = `SELECT i.id, i.storage_key, i.width, i.height, i.created_at FROM images i`;
    const ORDER = `ORDER BY i.created_at DESC, i.id DESC LIMIT 20`;

    it.each([
      ['by character', `${GALLERY} WHERE i.character_id = $1 ${ORDER}`, 'images_character_created_idx'],
      [
        'by character, sfw only',
        `${GALLERY} WHERE i.character_id = $1 AND NOT i.nsfw ${ORDER}`,
        'images_character_created_idx',
      ],
      [
        'by character, page 3',
        `${GALLERY} WHERE i.character_id = $1 ${ORDER} OFFSET 40`,
        'images_character_created_idx',
      ],
      [
        'by character, joined to its character for the visibility rule',
        `${GALLERY} JOIN characters c ON c.id = i.character_id
         WHERE i.character_id = $1 AND c.visibility <> 'private' AND NOT c.nsfw ${ORDER}`,
        'images_character_created_idx',
      ],
    ])('%s: walks its index in order on the largest gallery', async (_name, sql, index) => {
      const plan = await explain(sql, [heavyCharacter.id]);
      expect({
        ordered: orderedScans(plan, 'images'),
        sorts: sorts(plan).length,
        seq: seqScansOf(plan, 'images'),
      }).toEqual({
        ordered: [index],
        sorts: 0,
        seq: [],
      });
    });

    it('by uploader and character: uses the owner+character index', async () => {
      for (const c of [heavyCharacter, lightCharacter]) {
        const plan = await explain(`${GALLERY} WHERE i.owner_id = $1 AND i.character_id = $2 ${ORDER}`, [
          c.owner_id,
          c.id,
        ]);
        expect({ ordered: orderedScans(plan, 'images'), sorts: sorts(plan).length }).toEqual({
          ordered: ['images_owner_character_created_idx'],
          sorts: 0,
        });
      }
    });

    it('a one-image gallery and the gallery count use the character index', async () => {
      const small = await explain(`${GALLERY} WHERE i.character_id = $1 ${ORDER}`, [lightCharacter.id]);
      expect(indexesUsed(small, 'images_')).toEqual(['images_character_created_idx']);
      const count = await explain(`SELECT count(*) FROM images i WHERE i.character_id = $1`, [
        heavyCharacter.id,
      ]);
      expect({ seq: seqScansOf(count, 'images').length, used: indexesUsed(count, 'images_') }).toEqual({
        seq: 0,
        used: ['images_character_created_idx'],
      });
    });
  });

  it('has an index leading with the column of every foreign key, so deleting a parent row scans no child table', async () => {
    const unindexed = await db.query<{ fk: string }[]>(`
      SELECT c.conrelid::regclass || '.' || a.attname AS fk
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
       WHERE c.contype = 'f'
         AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
       ORDER BY 1`);
    expect(unindexed.map((row) => row.fk)).toEqual([]);
  });
});
