import type Redis from 'ioredis';
import { Envelope } from '../src/cache/core/envelope';
import { createCharacter, createUser, TestUser } from './support/fixtures';
import { png } from './support/images';
import { OwnRedis, scanKeys } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';

const MINUTE = 60_000;
/** TTL jitter: every entry lives its TTL ± 10 % (see src/cache/README.md). */
const JITTER = 0.1;

/** The cache entry stored under `key`, decoded as the service decodes it (compressed or not); null if none. */
async function entryOf(client: Redis, key: string): Promise<Envelope | null> {
  const bytes = await client.getBuffer(key);
  return bytes ? Envelope.fromStored(key, bytes) : null;
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
    const detailKey = (await scanKeys(raw)).find((k) => k.endsWith(`:characters:detail:${ids.character}:sfw`));
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
    ['character detail (both views)', () => `characters:detail:${ids.character}:`, 10 * MINUTE],
    ['gallery page', () => `images:gallery:${ids.character}:1:`, 15 * MINUTE],
    ['a user’s images of a character', () => `images:user:${owner.username}:${ids.character}:1:`, 15 * MINUTE],
    ['image metadata', () => `images:detail:${ids.image}`, 15 * MINUTE],
    ['generation result', () => `images:generation:${ids.job}`, 60 * MINUTE],
    ['public profile', () => `users:profile:${owner.username}`, 15 * MINUTE],
  ])('%s: stored under the brief’s key layout for the brief’s TTL', async (_, keyStart, ttl) => {
    const start = `${prefix}:${keyStart()}`;
    const keys = (await scanKeys(raw, `${start}*`)).filter((k) => !k.includes('%lease'));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      // Decoding checks the key stored in the entry too: another key's bytes would come back null.
      const entry = await entryOf(raw, key);
      expect(entry).not.toBeNull();
      const { header } = entry!;
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
    const keys = await scanKeys(raw);
    for (const key of keys) {
      const type = await raw.type(key);
      let value = '';
      if (type === 'string') {
        const entry = await entryOf(raw, key);
        value = entry ? `${JSON.stringify(entry.header)} ${entry.payload.toString('utf8')}` : ((await raw.get(key)) ?? '');
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
    expect(keys.filter((k) => k.includes(':images:generation:') || k.includes(':images:detail:'))).toHaveLength(2);
    expect(found).toEqual([]);
  });
});
