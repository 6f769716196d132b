import type { SubscriptionTier, UserRole } from '../../src/users/entities/user.entity';
import type { TestApp } from './test-app';

export interface TestUser {
  id: string;
  username: string;
  token: string;
  auth: { Authorization: string };
}

export interface UserOptions {
  role?: UserRole;
  tier?: SubscriptionTier;
  showNsfw?: boolean;
}

let seq = 0;

/** Registers through the API (so the token is real), then sets role/tier/preference directly in the database. */
export async function createUser(t: TestApp, options: UserOptions = {}, username?: string): Promise<TestUser> {
  const name = username ?? `u${process.pid}_${++seq}`;
  const res = await t.http
    .post('/auth/register')
    .send({ username: name, email: `${name}@example.com`, password: 'correct horse battery' })
    .expect(201);
  const id = res.body.user.id as string;
  await t.db.query(
    `UPDATE users SET role = $2, subscription_tier = $3, preferences = jsonb_set(preferences, '{showNsfw}', to_jsonb($4::boolean))
     WHERE id = $1`,
    [id, options.role ?? 'user', options.tier ?? 'free', options.showNsfw ?? false],
  );
  const token = res.body.accessToken as string;
  return { id, username: name, token, auth: { Authorization: `Bearer ${token}` } };
}

export interface CharacterOptions {
  name?: string;
  visibility?: 'public' | 'unlisted' | 'private';
  nsfw?: boolean;
  premium?: boolean;
  tags?: string[];
  description?: string;
}

export async function createCharacter(t: TestApp, owner: TestUser, options: CharacterOptions = {}) {
  const res = await t.http
    .post('/characters')
    .set(owner.auth)
    .send({ name: options.name ?? `Char ${++seq}`, ...options })
    .expect(201);
  return res.body as { id: string; version: number; name: string };
}

/** Row counts of every table, to assert that a rejected request wrote nothing. */
export async function tableCounts(t: TestApp): Promise<Record<string, number>> {
  const { rows } = await t.db.query<{ users: number; characters: number; images: number; jobs: number; sum: string }>(
    `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM characters)::int AS characters,
            (SELECT count(*) FROM images)::int AS images, (SELECT count(*) FROM generation_jobs)::int AS jobs,
            (SELECT coalesce(sum(version), 0) FROM characters)::text
              || ':' || (SELECT coalesce(max(updated_at)::text, '') FROM users) AS sum`,
  );
  return rows[0] as unknown as Record<string, number>;
}
