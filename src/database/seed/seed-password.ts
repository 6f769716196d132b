import { randomBytes } from 'node:crypto';
import * as argon2 from 'argon2';

/**
 * Seeded users share one password hash. With SEED_PASSWORD set, they can log in with it; without it, the hash
 * is of a random throw-away value, so no seeded account is reachable with a password anyone could guess.
 */
export async function seedPasswordHash(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const password = env.SEED_PASSWORD || randomBytes(24).toString('base64url');
  return argon2.hash(password);
}
