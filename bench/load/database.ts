import { execFileSync } from 'node:child_process';
import { Client } from 'pg';

/** The shared PostgreSQL of this machine; the benchmark only ever uses a database of its own on it. */
export const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const BENCH_DB = 'cards_bench';

export interface DataSet {
  users: number;
  characters: number;
  images: number;
  seed: number;
}

export const FULL_DATA: DataSet = { users: 1_000, characters: 10_000, images: 50_000, seed: 7 };

export function benchUrl(): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${BENCH_DB}`;
  return url.toString();
}

async function withClient<T>(url: string, run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * Makes `cards_bench` hold exactly the data set asked for (seeded by the service's own CLI, so the data is what
 * `npm run seed` makes). A database already seeded with the same figures is reused: seeding takes ~10 s.
 */
export async function ensureDataSet(data: DataSet, log: (line: string) => void): Promise<void> {
  const mark = `${data.users}/${data.characters}/${data.images}/seed ${data.seed}`;
  const exists = await withClient(ADMIN_URL, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [BENCH_DB])).rowCount === 1);
  if (exists) {
    const current = await withClient(benchUrl(), async (c) => {
      const { rows } = await c.query<{ d: string | null }>(`SELECT obj_description('public.characters'::regclass, 'pg_class') AS d`).catch(() => ({ rows: [{ d: null }] }));
      return rows[0]?.d ?? null;
    });
    if (current === mark) {
      log(`database ${BENCH_DB}: reusing the seeded data set (${mark})`);
      return;
    }
    await withClient(ADMIN_URL, (c) => c.query(`DROP DATABASE ${BENCH_DB} WITH (FORCE)`));
  }
  await withClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${BENCH_DB}`));
  log(`database ${BENCH_DB}: seeding ${data.users} users, ${data.characters} characters, ${data.images} images…`);
  execFileSync(
    process.execPath,
    ['dist/database/cli.js', 'seed', '--users', String(data.users), '--characters', String(data.characters), '--images', String(data.images), '--seed', String(data.seed)],
    // No SEED_PASSWORD: the seeded accounts get a random one; the benchmark signs its own tokens.
    { env: { PATH: process.env.PATH, DATABASE_URL: benchUrl(), NODE_ENV: 'production' }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await withClient(benchUrl(), async (c) => {
    await c.query('VACUUM ANALYZE');
    await c.query(`COMMENT ON TABLE characters IS '${mark}'`);
  });
}

/** Rows the cards mix needs: viewers of each class, and writers with characters of their own. */
export interface MixFixtures {
  free: string[];
  plusNsfw: string[];
  writers: { userId: string; characterIds: string[] }[];
}

export async function mixFixtures(): Promise<MixFixtures> {
  return withClient(benchUrl(), async (c) => {
    const free = await c.query<{ id: string }>(
      `SELECT id FROM users WHERE subscription_tier = 'free' AND NOT coalesce((preferences->>'showNsfw')::boolean, false) ORDER BY id LIMIT 20`,
    );
    const plus = await c.query<{ id: string }>(
      `SELECT id FROM users WHERE subscription_tier IN ('plus', 'pro') AND subscription_status = 'active'
         AND coalesce((preferences->>'showNsfw')::boolean, false) ORDER BY id LIMIT 20`,
    );
    const writers = await c.query<{ owner_id: string; ids: string[] }>(
      `SELECT owner_id, array_agg(id ORDER BY id) AS ids FROM characters
         WHERE visibility = 'public' AND NOT nsfw AND NOT premium
         GROUP BY owner_id ORDER BY count(*) DESC, owner_id LIMIT 90`,
    );
    return {
      free: free.rows.map((r) => r.id),
      plusNsfw: plus.rows.map((r) => r.id),
      writers: writers.rows.map((r) => ({ userId: r.owner_id, characterIds: r.ids })),
    };
  });
}

/**
 * Puts back the descriptions the cards mix overwrote, so every run starts from the seeded data (page sizes and
 * all). Taken before the mix with `descriptions()`; written straight to PostgreSQL after the last scenario.
 */
export async function descriptions(ids: string[]): Promise<Map<string, string>> {
  return withClient(benchUrl(), async (c) => {
    const { rows } = await c.query<{ id: string; description: string }>('SELECT id, description FROM characters WHERE id = ANY($1::uuid[])', [ids]);
    return new Map(rows.map((r) => [r.id, r.description]));
  });
}

export async function restoreDescriptions(original: Map<string, string>): Promise<void> {
  await withClient(benchUrl(), async (c) => {
    for (const [id, description] of original) {
      await c.query('UPDATE characters SET description = $2 WHERE id = $1 AND description <> $2', [id, description]);
    }
  });
}

/** The current version and description of characters, straight from PostgreSQL (the stale-read check). */
export async function characterVersions(ids: string[]): Promise<Map<string, { version: number; description: string }>> {
  return withClient(benchUrl(), async (c) => {
    const { rows } = await c.query<{ id: string; version: number; description: string }>(
      'SELECT id, version, description FROM characters WHERE id = ANY($1::uuid[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, { version: r.version, description: r.description }]));
  });
}

export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
