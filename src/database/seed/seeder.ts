import type { DataSource, EntityManager } from 'typeorm';
import { planSeed, SeedCharacterRow, SeedImageRow, SeedOptions, SeedUserRow } from './seed-plan';

const USER_BATCH = 5_000;
/** Characters per statement; their images ride in the same statement (a few thousand to ~12 k rows). */
const CHARACTER_BATCH = 1_000;

export interface SeedSummary {
  users: number;
  characters: number;
  images: number;
  ms: number;
}

export interface SeedRunOptions {
  /** Empty the data set's tables first, in the same transaction as the inserts (all or nothing). */
  reset?: boolean;
}

/** The tables a data set lives in (billing_events too: it refers to users); a reset empties exactly these. */
export const SEEDED_TABLES = ['users', 'characters', 'images', 'generation_jobs', 'billing_events'] as const;

export type TableCounts = Record<(typeof SEEDED_TABLES)[number], number>;

/** Seeding on top of existing rows would mix two data sets (and collide on usernames); a reset is explicit. */
export class DatabaseNotEmptyError extends Error {
  constructor(readonly counts: TableCounts) {
    super(
      `the database is not empty (${SEEDED_TABLES.map((t) => `${counts[t]} ${t}`).join(', ')}); ` +
        `seed with --reset to truncate ${SEEDED_TABLES.join(', ')} first`,
    );
    this.name = 'DatabaseNotEmptyError';
  }
}

function chunks<T>(rows: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) {
    out.push(rows.slice(i, i + size));
  }
  return out;
}

async function countRows(m: EntityManager): Promise<TableCounts> {
  const [row] = await m.query<TableCounts[]>(
    `SELECT ${SEEDED_TABLES.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(', ')}`,
  );
  return row;
}

async function insertUsers(m: EntityManager, rows: SeedUserRow[], passwordHash: string): Promise<void> {
  await m.query(
    `INSERT INTO users (id, username, email, password_hash, role, preferences, subscription_tier, created_at, updated_at)
     SELECT id, username, email, $1, role, jsonb_build_object('showNsfw', show_nsfw, 'language', 'en'), tier, created_at, created_at
     FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::timestamptz[])
       AS t(id, username, email, role, show_nsfw, tier, created_at)`,
    [
      passwordHash,
      rows.map((r) => r.id),
      rows.map((r) => r.username),
      rows.map((r) => r.email),
      rows.map((r) => r.role),
      rows.map((r) => r.showNsfw),
      rows.map((r) => r.tier),
      rows.map((r) => r.createdAt.toISOString()),
    ],
  );
}

/** image_count, sfw_image_count and the avatar (a character's oldest image, ties by id) as the API would have left them. */
interface Derived {
  imageCount: number;
  sfwImageCount: number;
  avatar: SeedImageRow | null;
}

function deriveFromImages(images: SeedImageRow[]): Map<string, Derived> {
  const byCharacter = new Map<string, Derived>();
  for (const image of images) {
    const d = byCharacter.get(image.characterId) ?? { imageCount: 0, sfwImageCount: 0, avatar: null };
    d.imageCount++;
    d.sfwImageCount += image.nsfw ? 0 : 1;
    const a = d.avatar;
    const t = image.createdAt.getTime();
    if (!a || t < a.createdAt.getTime() || (t === a.createdAt.getTime() && image.id < a.id)) {
      d.avatar = image;
    }
    byCharacter.set(image.characterId, d);
  }
  return byCharacter;
}

/**
 * Characters and their images in one statement. characters.avatar_image_id and images.character_id reference each
 * other; PostgreSQL checks foreign keys at the end of the statement, so both sides can arrive together and no
 * row is ever updated afterwards (an UPDATE pass would leave every character row dead once, doubling the table
 * and its indexes until a VACUUM FULL).
 */
async function insertCharactersWithImages(
  m: EntityManager,
  characters: SeedCharacterRow[],
  images: SeedImageRow[],
  derived: Map<string, Derived>,
): Promise<void> {
  await m.query(
    `WITH new_characters AS (
       INSERT INTO characters (id, owner_id, name, description, tags, visibility, nsfw, premium, featured, featured_rank,
                               image_count, sfw_image_count, avatar_image_id, created_at, updated_at)
       SELECT id, owner_id, name, description, string_to_array(tags, ','), visibility, nsfw, premium,
              featured_rank IS NOT NULL, featured_rank, image_count, sfw_image_count, avatar_image_id, created_at,
              created_at
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::bool[],
                   $9::int[], $10::int[], $11::int[], $12::uuid[], $13::timestamptz[])
         AS t(id, owner_id, name, description, tags, visibility, nsfw, premium, featured_rank, image_count,
              sfw_image_count, avatar_image_id, created_at)
       RETURNING 1
     ), new_images AS (
       INSERT INTO images (id, owner_id, character_id, storage_key, mime, width, height, bytes, nsfw, created_at, updated_at)
       SELECT id, owner_id, character_id, storage_key, 'image/webp', width, height, bytes, nsfw, created_at, created_at
       FROM unnest($14::uuid[], $15::uuid[], $16::uuid[], $17::text[], $18::int[], $19::int[], $20::int[], $21::bool[],
                   $22::timestamptz[])
         AS t(id, owner_id, character_id, storage_key, width, height, bytes, nsfw, created_at)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM new_characters) AS characters, (SELECT count(*) FROM new_images) AS images`,
    [
      characters.map((r) => r.id),
      characters.map((r) => r.ownerId),
      characters.map((r) => r.name),
      characters.map((r) => r.description),
      // Vocabulary tags never contain a comma; a flat text[] is what unnest() can carry.
      characters.map((r) => r.tags.join(',')),
      characters.map((r) => r.visibility),
      characters.map((r) => r.nsfw),
      characters.map((r) => r.premium),
      characters.map((r) => r.featuredRank),
      characters.map((r) => derived.get(r.id)?.imageCount ?? 0),
      characters.map((r) => derived.get(r.id)?.sfwImageCount ?? 0),
      characters.map((r) => derived.get(r.id)?.avatar?.id ?? null),
      characters.map((r) => r.createdAt.toISOString()),
      images.map((r) => r.id),
      images.map((r) => r.ownerId),
      images.map((r) => r.characterId),
      images.map((r) => r.storageKey),
      images.map((r) => r.width),
      images.map((r) => r.height),
      images.map((r) => r.bytes),
      images.map((r) => r.nsfw),
      images.map((r) => r.createdAt.toISOString()),
    ],
  );
}

/**
 * Inserts a planned data set with `INSERT ... SELECT FROM unnest(...)` batches, so 10 k characters and 50 k images
 * take a dozen round trips, then vacuums and analyzes so the planner sees the tables as they are.
 * `passwordHash` is shared by every seeded user (hashing thousands of passwords would dominate the run).
 * Refuses a database that already holds rows unless `run.reset` is set.
 */
export async function seedDatabase(
  dataSource: DataSource,
  options: SeedOptions,
  passwordHash: string,
  run: SeedRunOptions = {},
): Promise<SeedSummary> {
  const started = Date.now();
  const plan = planSeed(options);
  const derived = deriveFromImages(plan.images);
  const imagesByCharacter = new Map<string, SeedImageRow[]>();
  for (const image of plan.images) {
    const list = imagesByCharacter.get(image.characterId) ?? [];
    list.push(image);
    imagesByCharacter.set(image.characterId, list);
  }
  await dataSource.transaction(async (m: EntityManager) => {
    if (run.reset) {
      await m.query(`TRUNCATE ${SEEDED_TABLES.join(', ')}`);
    } else {
      const counts = await countRows(m);
      if (Object.values(counts).some((n) => n > 0)) {
        throw new DatabaseNotEmptyError(counts);
      }
    }
    for (const rows of chunks(plan.users, USER_BATCH)) {
      await insertUsers(m, rows, passwordHash);
    }
    for (const rows of chunks(plan.characters, CHARACTER_BATCH)) {
      const images = rows.flatMap((c) => imagesByCharacter.get(c.id) ?? []);
      await insertCharactersWithImages(m, rows, images, derived);
    }
  });
  // Fresh statistics, a set visibility map and flushed GIN pending lists: without them the planner would judge
  // the indexes on a state no long-running database is in (autovacuum would have done the same by now).
  await dataSource.query(`VACUUM (ANALYZE) ${SEEDED_TABLES.join(', ')}`);
  return {
    users: plan.users.length,
    characters: plan.characters.length,
    images: plan.images.length,
    ms: Date.now() - started,
  };
}
