import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { CliOutput, EXIT_FAILED, EXIT_OK, EXIT_USAGE, main, parseArgs } from '../src/database/cli';
import type { DatabaseConfig } from '../src/config';
import { buildDataSourceOptions, MIGRATIONS } from '../src/database/data-source-options';
import { NfcCharacterText1764300000000 } from '../src/database/migrations/1764300000000-nfc-character-text';
import { SfwImageCount1764400000000 } from '../src/database/migrations/1764400000000-sfw-image-count';
import { SeedOptions } from '../src/database/seed/seed-plan';
import { seedDatabase } from '../src/database/seed/seeder';
import { databaseUrl, runPrefix, withAdminClient } from './support/databases';
import { createSuiteDatabase } from './support/test-app';

jest.setTimeout(60_000);

const SIZE = { users: 150, characters: 2_000, images: 8_000 };
const args = (o: SeedOptions): string[] =>
  ['--users', o.users, '--characters', o.characters, '--images', o.images, '--seed', o.seed].map(String);

/** The database settings of a data source on the test server's database `url`, migrations not run at start. */
const onServer = (url: string): DatabaseConfig => ({
  url,
  embedded: false,
  migrate: false,
  pgliteDir: '',
  seedEmbedded: false,
  poolSize: 2,
  logging: false,
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 60_000,
});

/** Captures what the CLI prints, instead of the console. */
function capture(): CliOutput & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

/**
 * One md5 per table over every column of every row in id order. Password hashes are left out: argon2 salts each
 * hash, so they differ between runs by design (they are checked separately).
 */
async function fingerprint(pool: Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of ['users', 'characters', 'images']) {
    const { rows } = await pool.query<{ md5: string | null }>(
      `SELECT md5(string_agg((to_jsonb(t) - 'password_hash')::text, '|' ORDER BY t.id)) AS md5 FROM ${table} t`,
    );
    out[table] = rows[0].md5 ?? 'empty';
  }
  return out;
}

async function one<T>(pool: Pool, sql: string): Promise<T> {
  const { rows } = await pool.query(sql);
  return rows[0] as T;
}

describe('seed data set', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'cards-seed-cli-'));
  const pools: Pool[] = [];
  const urls: string[] = [];
  let viaCli: Pool; // seed 7 through the CLI
  let viaFunction: Pool; // seed 7 through seedDatabase()
  let otherSeed: Pool; // seed 8

  async function database(): Promise<{ url: string; pool: Pool }> {
    const url = await createSuiteDatabase();
    const pool = new Pool({ connectionString: url, max: 2 });
    urls.push(url);
    pools.push(pool);
    return { url, pool };
  }

  beforeAll(async () => {
    const a = await database();
    const b = await database();
    const c = await database();
    [viaCli, viaFunction, otherSeed] = [a.pool, b.pool, c.pool];

    const out = capture();
    expect(await main(['seed', ...args({ ...SIZE, seed: 7 })], { DATABASE_URL: a.url }, out, cwd)).toBe(
      EXIT_OK,
    );
    expect(out.stdout.join('\n')).toMatch(
      /seed: 150 users, 2000 characters, 8000 images \(seed 7\).* in \d+ ms/,
    );

    const ds = new DataSource(
      buildDataSourceOptions(onServer(b.url)),
    );
    await ds.initialize();
    try {
      const summary = await seedDatabase(ds, { ...SIZE, seed: 7 }, 'not-a-real-hash');
      expect(summary).toMatchObject(SIZE);
    } finally {
      await ds.destroy();
    }

    expect(await main(['seed', ...args({ ...SIZE, seed: 8 })], { DATABASE_URL: c.url }, capture(), cwd)).toBe(
      EXIT_OK,
    );
  });

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await withAdminClient(async (admin) => {
      for (const url of urls) {
        await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
      }
    });
    rmSync(cwd, { recursive: true, force: true });
  });

  it('gives identical data for the same seed and different data for another', async () => {
    const same = await fingerprint(viaCli);
    expect(await fingerprint(viaFunction)).toEqual(same);
    const other = await fingerprint(otherSeed);
    for (const table of Object.keys(same)) {
      expect(other[table]).not.toBe(same[table]);
    }
  });

  it('creates exactly the requested counts', async () => {
    for (const pool of [viaCli, otherSeed]) {
      expect(
        await one(
          pool,
          `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM characters)::int AS characters,
                  (SELECT count(*) FROM images)::int AS images`,
        ),
      ).toEqual(SIZE);
    }
  });

  it('gives every seeded user one shared argon2id hash and one admin', async () => {
    const row = await one<{ hashes: number; prefix: string; admins: number }>(
      viaCli,
      `SELECT count(DISTINCT password_hash)::int AS hashes, min(left(password_hash, 10)) AS prefix,
              count(*) FILTER (WHERE role = 'admin')::int AS admins FROM users`,
    );
    expect(row).toEqual({ hashes: 1, prefix: '$argon2id$', admins: 1 });
  });

  it('mixes nsfw, premium, featured, unlisted and private characters', async () => {
    const mix = await one<Record<string, number>>(
      viaCli,
      `SELECT count(*) FILTER (WHERE visibility = 'public')::int AS public,
              count(*) FILTER (WHERE visibility = 'unlisted')::int AS unlisted,
              count(*) FILTER (WHERE visibility = 'private')::int AS private,
              count(*) FILTER (WHERE nsfw)::int AS nsfw,
              count(*) FILTER (WHERE premium)::int AS premium,
              count(*) FILTER (WHERE featured)::int AS featured,
              count(*) FILTER (WHERE featured AND (visibility <> 'public' OR featured_rank IS NULL))::int AS bad_featured,
              count(DISTINCT featured_rank)::int AS ranks
       FROM characters`,
    );
    // Each kind is a minority, but present: ~85 % public, ~10 % unlisted, ~5 % private, ~10 % nsfw and premium.
    expect(mix.public).toBeGreaterThan(SIZE.characters * 0.7);
    const kinds = ['unlisted', 'private', 'nsfw', 'premium', 'featured'];
    const minority = (n: number): boolean => n > 0 && n < SIZE.characters * 0.3;
    expect(Object.fromEntries(kinds.map((k) => [k, minority(mix[k])]))).toEqual(
      Object.fromEntries(kinds.map((k) => [k, true])),
    );
    expect(mix.bad_featured).toBe(0);
    expect(mix.ranks).toBe(mix.featured);
    const users = await one<{ nsfw: number; paying: number }>(
      viaCli,
      `SELECT count(*) FILTER (WHERE (preferences->>'showNsfw')::boolean)::int AS nsfw,
              count(*) FILTER (WHERE subscription_tier <> 'free')::int AS paying FROM users`,
    );
    expect(users.nsfw).toBeGreaterThan(0);
    expect(users.paying).toBeGreaterThan(0);
  });

  it('keeps image_count and sfw_image_count equal to the real numbers of images, skewed towards a few characters', async () => {
    const row = await one<{ wrong: number; wrong_sfw: number; mixed: number; without: number; max: number; sum: number }>(
      viaCli,
      `SELECT count(*) FILTER (WHERE c.image_count <> coalesce(n.n, 0))::int AS wrong,
              count(*) FILTER (WHERE c.sfw_image_count <> coalesce(n.sfw, 0))::int AS wrong_sfw,
              count(*) FILTER (WHERE c.sfw_image_count BETWEEN 1 AND c.image_count - 1)::int AS mixed,
              count(*) FILTER (WHERE c.image_count = 0)::int AS without,
              max(c.image_count)::int AS max, sum(c.image_count)::int AS sum
       FROM characters c LEFT JOIN (
         SELECT character_id, count(*) AS n, count(*) FILTER (WHERE NOT nsfw) AS sfw FROM images GROUP BY 1
       ) n ON n.character_id = c.id`,
    );
    expect(row.wrong).toBe(0);
    expect(row.wrong_sfw).toBe(0);
    // Characters with both kinds of image exist, so the two counts are told apart.
    expect(row.mixed).toBeGreaterThan(0);
    expect(row.sum).toBe(SIZE.images);
    expect(row.without).toBeGreaterThan(0);
    expect(row.max).toBeGreaterThan(10 * (SIZE.images / SIZE.characters));
  });

  it('gives each character with images its oldest image as avatar, and none to the others', async () => {
    const row = await one<{ foreign: number; missing: number; stray: number; not_oldest: number }>(
      viaCli,
      `SELECT count(*) FILTER (WHERE a.character_id <> c.id)::int AS foreign,
              count(*) FILTER (WHERE c.image_count > 0 AND c.avatar_image_id IS NULL)::int AS missing,
              count(*) FILTER (WHERE c.image_count = 0 AND c.avatar_image_id IS NOT NULL)::int AS stray,
              count(*) FILTER (WHERE c.avatar_image_id IS DISTINCT FROM (
                SELECT i.id FROM images i WHERE i.character_id = c.id ORDER BY i.created_at, i.id LIMIT 1))::int AS not_oldest
       FROM characters c LEFT JOIN images a ON a.id = c.avatar_image_id`,
    );
    expect(row).toEqual({ foreign: 0, missing: 0, stray: 0, not_oldest: 0 });
  });

  it('gives images their character owner, and nsfw characters only nsfw images', async () => {
    const row = await one<{ owner: number; nsfw: number }>(
      viaCli,
      `SELECT count(*) FILTER (WHERE i.owner_id <> c.owner_id)::int AS owner,
              count(*) FILTER (WHERE c.nsfw AND NOT i.nsfw)::int AS nsfw
       FROM images i JOIN characters c ON c.id = i.character_id`,
    );
    expect(row).toEqual({ owner: 0, nsfw: 0 });
  });

  it('skews tags: the most common tag is far more frequent than the least', async () => {
    const { rows } = await viaCli.query<{ tag: string; n: number }>(
      `SELECT tag, count(*)::int AS n FROM characters, unnest(tags) AS tag GROUP BY tag ORDER BY n DESC`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(rows[0].n).toBeGreaterThan(5 * rows[rows.length - 1].n);
  });

  it('refuses a non-empty database without --reset and changes nothing', async () => {
    const before = await fingerprint(viaCli);
    const out = capture();
    const code = await main(['seed', ...args({ ...SIZE, seed: 8 })], { DATABASE_URL: urls[0] }, out, cwd);
    expect(code).toBe(EXIT_FAILED);
    expect(out.stderr.join('\n')).toMatch(
      /not empty \(150 users, 2000 characters, 8000 images, 0 generation_jobs, 0 billing_events\).*--reset/,
    );
    expect(await fingerprint(viaCli)).toEqual(before);
  });

  it('--reset empties every table of the data set, then seeds the same data as a fresh database', async () => {
    const { rows } = await viaCli.query<{ owner_id: string; id: string }>(
      `SELECT owner_id, id FROM characters LIMIT 1`,
    );
    await viaCli.query(
      `INSERT INTO generation_jobs (owner_id, character_id, prompt) VALUES ($1, $2, 'a prompt')`,
      [rows[0].owner_id, rows[0].id],
    );
    const out = capture();
    const code = await main(
      ['seed', ...args({ ...SIZE, seed: 8 }), '--reset'],
      { DATABASE_URL: urls[0] },
      out,
      cwd,
    );
    expect({ code, err: out.stderr }).toEqual({ code: EXIT_OK, err: [] });
    expect(out.stdout.join('\n')).toMatch(/\(seed 8, after reset\)/);
    expect(await fingerprint(viaCli)).toEqual(await fingerprint(otherSeed));
    expect(await one(viaCli, `SELECT count(*)::int AS jobs FROM generation_jobs`)).toEqual({ jobs: 0 });
  });
});

/**
 * A database of its own, migrated up to the migration `next` (not run), given to `run` with a data source that
 * runs the rest on `migrateRest()`; dropped afterwards.
 */
async function beforeMigration(
  next: (typeof MIGRATIONS)[number],
  suffix: string,
  run: (ds: DataSource, migrateRest: () => Promise<string[]>) => Promise<void>,
): Promise<void> {
  const name = `${runPrefix()}_${process.pid}_${suffix}`;
  await withAdminClient((c) => c.query(`CREATE DATABASE ${name}`));
  const ds = new DataSource({
    ...buildDataSourceOptions(onServer(databaseUrl(name))),
    migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(next)),
  });
  try {
    await ds.initialize();
    await ds.runMigrations();
    await run(ds, async () => {
      await ds.destroy();
      ds.setOptions({ migrations: MIGRATIONS });
      await ds.initialize();
      return (await ds.runMigrations()).map((m) => m.name);
    });
  } finally {
    if (ds.isInitialized) {
      await ds.destroy();
    }
    await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

/** The names of the migrations from `first` on, as TypeORM reports them run. */
const namesFrom = (first: (typeof MIGRATIONS)[number]): string[] => MIGRATIONS.slice(MIGRATIONS.indexOf(first)).map((m) => m.name);

describe('migration NfcCharacterText', () => {
  it('puts names and descriptions written in another form into NFC, as a new version, and leaves the rest alone', async () => {
    await beforeMigration(NfcCharacterText1764300000000, 'nfc', async (ds, migrateRest) => {
      const [{ id: owner }] = await ds.query(
        `INSERT INTO users (username, email, password_hash) VALUES ('nfc_owner', 'nfc@example.com', 'x') RETURNING id`,
      );
      const nfd = 'Cre\u0300me bru\u0302le\u0301e';
      const rows = await ds.query(
        `INSERT INTO characters (owner_id, name, description) VALUES ($1, $2, 'plain'), ($1, 'Plain', $2), ($1, 'Ascii', 'only')
         RETURNING id, version, updated_at`,
        [owner, nfd],
      );
      expect(await migrateRest()).toEqual(namesFrom(NfcCharacterText1764300000000));
      const after = await ds.query(`SELECT id, name, description, version, updated_at FROM characters ORDER BY name`);
      const byId = new Map(after.map((r: { id: string }) => [r.id, r]));
      expect(byId.get(rows[0].id)).toMatchObject({ name: nfd.normalize('NFC'), description: 'plain', version: 2 });
      expect(byId.get(rows[1].id)).toMatchObject({ name: 'Plain', description: nfd.normalize('NFC'), version: 2 });
      expect(byId.get(rows[2].id)).toMatchObject({ name: 'Ascii', version: 1, updated_at: rows[2].updated_at });
      // Found by a search typed the usual (NFC) way, through the same expression the search index is built on.
      const found = await ds.query(
        `SELECT count(*)::int AS n FROM characters WHERE to_tsvector('simple', name || ' ' || description) @@ to_tsquery('simple', $1)`,
        ['br\u00fbl\u00e9e'],
      );
      expect(found[0].n).toBe(2);
    });
  });
});

describe('migration SfwImageCount', () => {
  it('counts each character’s images that are not nsfw, leaves its version alone, and indexes the sfw popular order', async () => {
    await beforeMigration(SfwImageCount1764400000000, 'sfwcount', async (ds, migrateRest) => {
      const [{ id: owner }] = await ds.query(
        `INSERT INTO users (username, email, password_hash) VALUES ('sfw_owner', 'sfw@example.com', 'x') RETURNING id`,
      );
      const characters: { id: string }[] = await ds.query(
        `INSERT INTO characters (owner_id, name) VALUES ($1, 'mixed'), ($1, 'only nsfw'), ($1, 'none') RETURNING id`,
        [owner],
      );
      const [mixed, onlyNsfw, none] = characters.map((c) => c.id);
      // Three images, one nsfw, on the first character; two nsfw on the second; none on the third.
      const images: [string, boolean][] = [[mixed, false], [mixed, true], [mixed, false], [onlyNsfw, true], [onlyNsfw, true]];
      for (const [i, [characterId, nsfw]] of images.entries()) {
        await ds.query(
          `INSERT INTO images (owner_id, character_id, storage_key, mime, width, height, bytes, nsfw)
           VALUES ($1, $2, $3, 'image/webp', 1, 1, 1, $4)`,
          [owner, characterId, `k/${i}.webp`, nsfw],
        );
      }
      await ds.query(
        `UPDATE characters c SET image_count = (SELECT count(*) FROM images i WHERE i.character_id = c.id)`,
      );
      expect(await migrateRest()).toEqual(namesFrom(SfwImageCount1764400000000));
      const after: { id: string; image_count: number; sfw_image_count: number; version: number }[] = await ds.query(
        `SELECT id, image_count, sfw_image_count, version FROM characters`,
      );
      expect(new Map(after.map(({ id, ...rest }) => [id, rest]))).toEqual(
        new Map([
          [mixed, { image_count: 3, sfw_image_count: 2, version: 1 }],
          [onlyNsfw, { image_count: 2, sfw_image_count: 0, version: 1 }],
          [none, { image_count: 0, sfw_image_count: 0, version: 1 }],
        ]),
      );
      const [index] = await ds.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'characters_public_popular_sfw_idx'`);
      expect(index?.indexdef).toMatch(/\(sfw_image_count DESC, id DESC\) WHERE .*visibility.*'public'.* AND \(?nsfw = false/);
    });
  });
});

describe('database CLI', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'cards-cli-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it.each([
    [['seed', '--user', '5'], /unknown flag --user\b/],
    [['seed', '--constructor', '5'], /unknown flag --constructor\b/],
    [['seed', '--users'], /--users needs a value/],
    [['seed', '--images', '-3'], /--images must be an integer/],
    [['seed', '--characters=lots'], /--characters must be an integer.*"lots"/],
    [['seed', '--seed', '99999999999'], /--seed must be an integer from 0 to 4294967295/],
    [['seed', '--reset=yes'], /--reset takes no value/],
    [['seed', '--users', '0', '--characters', '5', '--images', '0'], /--users must be at least 1/],
    [['seed', 'extra'], /unexpected argument "extra"/],
    [['migrate', '--force'], /migrate takes no arguments/],
    [['drop'], /unknown command "drop"/],
    [[], /missing command/],
  ])('%j exits 2 with a usage message naming the problem', async (argv, message) => {
    const out = capture();
    // No database is touched: a bad command line never gets that far (this URL would not even connect).
    const code = await main(argv, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, out, cwd);
    expect(code).toBe(EXIT_USAGE);
    expect(out.stderr.join('\n')).toMatch(message);
    expect(out.stderr.join('\n')).toContain('Usage: node dist/database/cli.js');
    expect(out.stdout).toEqual([]);
  });

  it('parses flags in either form, with defaults for the rest, and tolerates npm\'s "--"', () => {
    expect(parseArgs(['seed', '--', '--users=3', '--characters', '4', '--reset'])).toEqual({
      name: 'seed',
      options: { users: 3, characters: 4, images: 50_000, seed: 42 },
      reset: true,
    });
    expect(parseArgs(['migrate'])).toEqual({ name: 'migrate' });
    expect(parseArgs(['seed', '--help'])).toEqual({ name: 'help' });
  });

  it('prints the usage for help and exits 0', async () => {
    const out = capture();
    expect(await main(['--help'], {}, out, cwd)).toBe(EXIT_OK);
    expect(out.stdout.join('\n')).toMatch(/--users N[\s\S]*--reset/);
  });

  it('names a bad configuration variable and exits 1', async () => {
    const out = capture();
    expect(await main(['migrate'], { DATABASE_URL: 'mysql://db/cards' }, out, cwd)).toBe(EXIT_FAILED);
    expect(out.stderr.join('\n')).toMatch(/migrate failed: Invalid configuration:\s+DATABASE_URL: /);
  });

  it('migrates an empty database named in .env, then finds nothing pending', async () => {
    const name = `${runPrefix()}_${process.pid}_cli_bare`;
    await withAdminClient((c) => c.query(`CREATE DATABASE ${name}`));
    try {
      writeFileSync(join(cwd, '.env'), `DATABASE_URL=${databaseUrl(name)}\n`);
      const first = capture();
      expect(await main(['migrate'], {}, first, cwd)).toBe(EXIT_OK);
      expect(first.stdout.join('\n')).toMatch(
        new RegExp(`migrate: applied Init\\d+, ForeignKeyIndexes\\d+, BillingEvents\\d+, NfcCharacterText\\d+, SfwImageCount\\d+ on PostgreSQL 127\\.0\\.0\\.1:5432/${name}`),
      );
      const again = capture();
      expect(await main(['migrate'], {}, again, cwd)).toBe(EXIT_OK);
      expect(again.stdout.join('\n')).toMatch(/migrate: no pending migrations/);
    } finally {
      rmSync(join(cwd, '.env'), { force: true });
      await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    }
  });
});
