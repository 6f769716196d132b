import { inflateRawSync } from 'node:zlib';
import type Redis from 'ioredis';
import { createCharacter, createUser, TestUser } from './support/fixtures';
import { png } from './support/images';
import { OwnRedis } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';

const MINUTE = 60_000;
/** TTL jitter: every entry lives its TTL ± 10 % (see src/cache/README.md). */
const JITTER = 0.1;

/** A cache entry as Redis holds it: the envelope's header line (see src/cache/core/envelope.ts). */
interface StoredHeader {
  k: string;
  c: number;
  f: number;
  s: number;
}

/** The header of a stored envelope; compressed ones start with NUL, `Z`, then raw DEFLATE. */
function headerOf(bytes: Buffer): StoredHeader {
  const envelope = bytes[0] === 0x00 && bytes[1] === 0x5a ? inflateRawSync(bytes.subarray(2)) : bytes;
  return JSON.parse(envelope.toString('utf8', 0, envelope.indexOf(0x0a))) as StoredHeader;
}

/** Every key in Redis, by SCAN (never KEYS), with its type. */
async function allKeys(client: Redis): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const key of batch) {
      keys.set(key, await client.type(key));
    }
  } while (cursor !== '0');
  return keys;
}

/**
 * What the cache holds after the frontend's reads, looked at in Redis itself: each cached endpoint stores under
 * the brief's key layout (SEED-SPEC "Cache Structure") with the brief's TTL ("TTL Strategy"), and nothing
 * personal is there.
 */
describe('what the cache holds in Redis', () => {
  jest.setTimeout(60_000);
  let redis: OwnRedis;
  let raw: Redis;
  let t: TestApp;
  let owner: TestUser;
  let prefix: string;
  let ids: { character: string; image: string; job: string };

  beforeAll(async () => {
    redis = await OwnRedis.start();
    raw = redis.client();
    t = await bootTestApp({ REDIS_URL: redis.url });
    owner = await createUser(t, { tier: 'pro', showNsfw: true });
    const character = await createCharacter(t, owner, { name: 'Layout Check' });
    const image = await t.http
      .post(`/characters/${character.id}/images`)
      .set(owner.auth)
      .attach('file', png(), { filename: 'a.png', contentType: 'image/png' })
      .expect(201);
    const job = await t.http.post(`/characters/${character.id}/generations`).set(owner.auth).send({ prompt: 'a portrait' }).expect(202);
    ids = { character: character.id, image: image.body.id, job: job.body.id };
    // Every cached read the frontend makes, anonymous and signed in.
    const reads = [
      '/characters?mode=all',
      '/characters?mode=featured',
      '/characters/featured',
      `/characters/${ids.character}`,
      `/characters/${ids.character}/images`,
      `/users/${owner.username}/characters/${ids.character}/images`,
      `/images/${ids.image}`,
      `/users/${owner.username}`,
    ];
    for (const path of reads) {
      await t.http.get(path).expect(200);
      await t.http.get(path).set(owner.auth).expect(200);
    }
    await t.http.get('/characters?mode=mine').set(owner.auth).expect(200);
    await t.http.get('/users/me').set(owner.auth).expect(200);
    await t.http.get(`/generations/${ids.job}`).set(owner.auth).expect(200);
    // The prefix (app name and cache schema version), from the one entry whose key is known but for it.
    const detailKey = [...(await allKeys(raw)).keys()].find((k) => k.endsWith(`:characters:detail:${ids.character}`));
    expect(detailKey).toBeDefined();
    prefix = detailKey!.slice(0, detailKey!.indexOf(':characters:detail:'));
  });
  afterAll(async () => {
    raw?.disconnect();
    await t?.close();
    await redis?.stop();
  });

  it.each([
    ['character list page', () => `characters:list:all:1:20:-:-:`, 5 * MINUTE],
    ['featured list page (mode=featured)', () => `characters:list:featured:1:20:-:-:`, 3 * MINUTE],
    // `@` is encoded in keys, as is every character outside letters, digits, `.`, `_` and `-` in a part.
    ['owner’s own list page', () => `characters:list:mine:1:20:-:-:%40viewer:${owner.id}`, 5 * MINUTE],
    ['featured characters', () => `characters:featured:`, 3 * MINUTE],
    ['character detail', () => `characters:detail:${ids.character}`, 10 * MINUTE],
    ['gallery page', () => `images:gallery:${ids.character}:1:`, 15 * MINUTE],
    ['a user’s images of a character', () => `images:user:${owner.username}:${ids.character}:1:`, 15 * MINUTE],
    ['image metadata', () => `images:detail:${ids.image}`, 15 * MINUTE],
    ['generation result', () => `images:generation:${ids.job}`, 60 * MINUTE],
    ['public profile', () => `users:profile:${owner.username}`, 15 * MINUTE],
  ])('%s: stored under the brief’s key layout for the brief’s TTL', async (_, keyStart, ttl) => {
    const start = `${prefix}:${keyStart()}`;
    const keys = [...(await allKeys(raw)).keys()].filter((k) => k.startsWith(start) && !k.includes('%lease'));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const bytes = (await raw.getBuffer(key))!;
      const header = headerOf(bytes);
      expect(header.k).toBe(key);
      // Fresh for the TTL, within the jitter; Redis keeps it as long as it may be served stale, and no longer.
      const fresh = header.f - header.c;
      expect(fresh).toBeGreaterThanOrEqual(ttl * (1 - JITTER));
      expect(fresh).toBeLessThanOrEqual(ttl * (1 + JITTER));
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(header.s - Date.now() - 5_000);
      expect(pttl).toBeLessThanOrEqual(header.s - header.c);
    }
  });

  it('holds no password hash, e-mail, token or secret, anywhere', async () => {
    const found: string[] = [];
    const keys = await allKeys(raw);
    for (const [key, type] of keys) {
      let value = '';
      if (type === 'string') {
        const bytes = (await raw.getBuffer(key))!;
        value = bytes[0] === 0x00 && bytes[1] === 0x5a ? inflateRawSync(bytes.subarray(2)).toString('utf8') : bytes.toString('utf8');
      } else if (type === 'hash') {
        value = JSON.stringify(await raw.hgetall(key));
      }
      const text = `${key} ${value}`;
      if (/\$argon2|\$2[aby]\$/.test(text)) {
        found.push(`password hash in ${key}`);
      }
      if (/[\w.+-]+@[\w-]+\.[\w.]+/.test(text)) {
        found.push(`e-mail in ${key}`);
      }
      if (/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.test(text) || text.includes(owner.token)) {
        found.push(`JWT in ${key}`);
      }
      for (const secret of ['dev-only-jwt-secret', 'dev-only-billing', 'dev-only-generator', 'dev-only-cdn-signing']) {
        if (text.includes(secret)) {
          found.push(`secret in ${key}`);
        }
      }
    }
    // Every kind of entry was looked at, compressed ones too.
    expect([...keys.keys()].filter((k) => k.includes(':images:generation:') || k.includes(':images:detail:'))).toHaveLength(2);
    expect(found).toEqual([]);
  });
});
