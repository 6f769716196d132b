import { gzipSync } from 'node:zlib';
import type { Logger as PinoInstance } from 'pino';
import { ROOT_LOGGER } from '../src/logging/logging.module';
import { createCharacter, createUser, tableCounts, TestUser } from './support/fixtures';
import { parseRawAnswer, rawExchange } from './support/raw-http';
import { bootTestApp, TestApp } from './support/test-app';

interface Case {
  name: string;
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  body?: unknown;
  raw?: { type: string; data: string | Buffer };
  headers?: Record<string, string>;
  status: number;
  code: string;
  field?: string;
}

/**
 * Every bad input gets a 4xx in the one error shape, names the offending field where there is one, and writes
 * nothing. The table is the spec; each row runs against the real app and database.
 */
describe('bad input', () => {
  let t: TestApp;
  let user: TestUser;
  let admin: TestUser;
  let characterId: string;

  beforeAll(async () => {
    t = await bootTestApp({ BODY_LIMIT_BYTES: '65536', REQUEST_TIMEOUT_MS: '1500' });
    user = await createUser(t);
    admin = await createUser(t, { role: 'admin' });
    characterId = (await createCharacter(t, user)).id;
  });
  afterAll(() => t.close());

  const long = (n: number) => 'x'.repeat(n);
  const cases = (): Case[] => [
    // ids and query strings
    { name: 'non-uuid id', method: 'get', path: '/characters/123', status: 400, code: 'VALIDATION_FAILED', field: 'id' },
    { name: 'sql in id', method: 'get', path: "/characters/1'%20OR%201=1--", status: 400, code: 'VALIDATION_FAILED', field: 'id' },
    { name: 'page=-1', method: 'get', path: '/characters?page=-1', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'page=0', method: 'get', path: '/characters?page=0', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'page=abc', method: 'get', path: '/characters?page=abc', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'page=1e9', method: 'get', path: '/characters?page=1e9', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'page=1.5', method: 'get', path: '/characters?page=1.5', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    // only decimal digits are a number: Number() would read each of these as one, a page under many URLs
    { name: 'page=0x10', method: 'get', path: '/characters?page=0x10', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'page=1e1', method: 'get', path: '/characters?page=1e1', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'page=" 2"', method: 'get', path: '/characters?page=%202', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'page=""', method: 'get', path: '/characters?page=', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'limit=+5', method: 'get', path: '/characters?limit=%2B5', status: 400, code: 'VALIDATION_FAILED', field: 'limit' },
    { name: 'page twice', method: 'get', path: '/characters?page=1&page=2', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'limit=1000', method: 'get', path: '/characters?limit=1000', status: 400, code: 'VALIDATION_FAILED', field: 'limit' },
    { name: 'limit=0', method: 'get', path: '/characters?limit=0', status: 400, code: 'VALIDATION_FAILED', field: 'limit' },
    { name: 'unknown mode', method: 'get', path: '/characters?mode=trending', status: 400, code: 'VALIDATION_FAILED', field: 'mode' },
    { name: 'bad tag', method: 'get', path: '/characters?tag=a%20b', status: 400, code: 'VALIDATION_FAILED', field: 'tag' },
    { name: 'over-long q', method: 'get', path: `/characters?q=${long(101)}`, status: 400, code: 'VALIDATION_FAILED', field: 'q' },
    { name: 'unknown query field', method: 'get', path: '/characters?sort=name', status: 400, code: 'VALIDATION_FAILED', field: 'sort' },
    // class-transformer drops these keys silently, so the whitelist never saw them
    { name: '__proto__ in a query', method: 'get', path: '/characters?__proto__=1', status: 400, code: 'VALIDATION_FAILED', field: '__proto__' },
    { name: 'constructor in a query', method: 'get', path: '/characters?page=1&constructor=x', status: 400, code: 'VALIDATION_FAILED', field: 'constructor' },
    { name: 'toString in a query', method: 'get', path: '/characters?toString=x', status: 400, code: 'VALIDATION_FAILED', field: 'toString' },
    { name: 'encoded __proto__ in a query', method: 'get', path: '/characters?__pro%74o__=1', status: 400, code: 'VALIDATION_FAILED', field: '__proto__' },
    { name: '__proto__ in a gallery query', method: 'get', path: `/characters/${characterId}/images?__proto__=1`, status: 400, code: 'VALIDATION_FAILED', field: '__proto__' },
    { name: 'constructor in an uploads query', method: 'get', path: `/users/${user.username}/characters/${characterId}/images?constructor=x`, status: 400, code: 'VALIDATION_FAILED', field: 'constructor' },
    { name: 'bad username', method: 'get', path: '/users/Not-Valid', status: 400, code: 'VALIDATION_FAILED', field: 'username' },
    // bodies
    { name: 'missing name', method: 'post', path: '/characters', body: {}, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'blank name', method: 'post', path: '/characters', body: { name: '   ' }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'over-long name', method: 'post', path: '/characters', body: { name: long(81) }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'over-long description', method: 'post', path: '/characters', body: { name: 'a', description: long(2001) }, status: 400, code: 'VALIDATION_FAILED', field: 'description' },
    // lengths count what PostgreSQL counts: validator.js left out a variation selector after a character
    { name: 'description over-long in variation selectors', method: 'post', path: '/characters', body: { name: 'a', description: 'x\uFE0F'.repeat(1001) }, status: 400, code: 'VALIDATION_FAILED', field: 'description' },
    { name: 'name over-long in variation selectors', method: 'post', path: '/characters', body: { name: 'x\uFE0E'.repeat(41) }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'prompt over-long in variation selectors', method: 'post', path: `/characters/${characterId}/generations`, body: { prompt: 'x\uFE0F'.repeat(1001) }, status: 400, code: 'VALIDATION_FAILED', field: 'prompt' },
    { name: 'name of wrong type', method: 'post', path: '/characters', body: { name: 42 }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'nsfw of wrong type', method: 'post', path: '/characters', body: { name: 'a', nsfw: 'yes' }, status: 400, code: 'VALIDATION_FAILED', field: 'nsfw' },
    { name: 'unknown visibility', method: 'post', path: '/characters', body: { name: 'a', visibility: 'secret' }, status: 400, code: 'VALIDATION_FAILED', field: 'visibility' },
    { name: 'tags not an array', method: 'post', path: '/characters', body: { name: 'a', tags: 'x' }, status: 400, code: 'VALIDATION_FAILED', field: 'tags' },
    { name: 'bad tag in array', method: 'post', path: '/characters', body: { name: 'a', tags: ['ok', 'no way'] }, status: 400, code: 'VALIDATION_FAILED', field: 'tags' },
    { name: 'duplicate tags', method: 'post', path: '/characters', body: { name: 'a', tags: ['x', 'X'] }, status: 400, code: 'VALIDATION_FAILED', field: 'tags' },
    { name: '21 tags', method: 'post', path: '/characters', body: { name: 'a', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, status: 400, code: 'VALIDATION_FAILED', field: 'tags' },
    { name: 'unknown field', method: 'post', path: '/characters', body: { name: 'a', ownerId: admin.id }, status: 400, code: 'VALIDATION_FAILED', field: 'ownerId' },
    { name: 'mass-assigned imageCount', method: 'patch', path: `/characters/${characterId}`, body: { imageCount: 99 }, status: 400, code: 'VALIDATION_FAILED', field: 'imageCount' },
    { name: 'array body', method: 'post', path: '/characters', body: [{ name: 'a' }], status: 400, code: 'VALIDATION_FAILED' },
    { name: 'empty JSON body', method: 'post', path: '/characters', raw: { type: 'application/json', data: '' }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'malformed JSON', method: 'post', path: '/characters', raw: { type: 'application/json', data: '{"name": "a",' }, status: 400, code: 'MALFORMED_JSON' },
    { name: 'oversized body', method: 'post', path: '/characters', raw: { type: 'application/json', data: JSON.stringify({ name: 'a', description: long(70_000) }) }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
    { name: 'wrong content type', method: 'post', path: '/characters', raw: { type: 'text/csv', data: 'name\na' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'bad If-Match', method: 'patch', path: `/characters/${characterId}`, body: { name: 'b' }, headers: { 'If-Match': 'abc' }, status: 400, code: 'VALIDATION_FAILED', field: 'If-Match' },
    { name: 'bulk: empty ids', method: 'post', path: '/characters/bulk', body: { ids: [], set: { nsfw: true } }, status: 400, code: 'VALIDATION_FAILED', field: 'ids' },
    { name: 'bulk: 501 ids', method: 'post', path: '/characters/bulk', body: { ids: Array.from({ length: 501 }, () => characterId), set: { nsfw: true } }, status: 400, code: 'VALIDATION_FAILED', field: 'ids' },
    { name: 'bulk: non-uuid id', method: 'post', path: '/characters/bulk', body: { ids: ['x'], set: { nsfw: true } }, status: 400, code: 'VALIDATION_FAILED', field: 'ids' },
    { name: 'bulk: empty set', method: 'post', path: '/characters/bulk', body: { ids: [characterId], set: {} }, status: 400, code: 'VALIDATION_FAILED', field: 'set' },
    // a nested object left out or sent as an array went past @ValidateNested to the service: a 500
    { name: 'bulk: no set', method: 'post', path: '/characters/bulk', body: { ids: [characterId] }, status: 400, code: 'VALIDATION_FAILED', field: 'set' },
    { name: 'bulk: set is an array', method: 'post', path: '/characters/bulk', body: { ids: [characterId], set: [{ nsfw: true }] }, status: 400, code: 'VALIDATION_FAILED', field: 'set' },
    { name: 'bulk: set is empty array', method: 'post', path: '/characters/bulk', body: { ids: [characterId], set: [] }, status: 400, code: 'VALIDATION_FAILED', field: 'set' },
    { name: 'bulk: set of wrong type', method: 'post', path: '/characters/bulk', body: { ids: [characterId], set: { nsfw: 'y' } }, status: 400, code: 'VALIDATION_FAILED', field: 'set.nsfw' },
    { name: 'bulk: name is not bulk-editable', method: 'post', path: '/characters/bulk', body: { ids: [characterId], set: { name: 'x' } }, status: 400, code: 'VALIDATION_FAILED', field: 'set.name' },
    { name: 'patch: nothing to change', method: 'patch', path: `/characters/${characterId}`, body: {}, status: 400, code: 'VALIDATION_FAILED', field: 'body' },
    { name: 'patch: only a version', method: 'patch', path: `/characters/${characterId}`, body: { version: 1 }, status: 400, code: 'VALIDATION_FAILED', field: 'body' },
    // explicit null in an optional field: validated like any other value, never passed on to a NOT NULL column
    { name: 'patch: null name', method: 'patch', path: `/characters/${characterId}`, body: { name: null }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'patch: null description', method: 'patch', path: `/characters/${characterId}`, body: { description: null }, status: 400, code: 'VALIDATION_FAILED', field: 'description' },
    { name: 'patch: null tags', method: 'patch', path: `/characters/${characterId}`, body: { tags: null }, status: 400, code: 'VALIDATION_FAILED', field: 'tags' },
    { name: 'patch: null visibility', method: 'patch', path: `/characters/${characterId}`, body: { visibility: null }, status: 400, code: 'VALIDATION_FAILED', field: 'visibility' },
    { name: 'patch: null nsfw', method: 'patch', path: `/characters/${characterId}`, body: { nsfw: null }, status: 400, code: 'VALIDATION_FAILED', field: 'nsfw' },
    { name: 'patch: null premium', method: 'patch', path: `/characters/${characterId}`, body: { premium: null }, status: 400, code: 'VALIDATION_FAILED', field: 'premium' },
    { name: 'patch: null version', method: 'patch', path: `/characters/${characterId}`, body: { name: 'b', version: null }, status: 400, code: 'VALIDATION_FAILED', field: 'version' },
    { name: 'patch (admin): null featured', method: 'patch', path: `/characters/${characterId}`, body: { featured: null }, headers: admin.auth, status: 400, code: 'VALIDATION_FAILED', field: 'featured' },
    { name: 'create: null nsfw', method: 'post', path: '/characters', body: { name: 'a', nsfw: null }, status: 400, code: 'VALIDATION_FAILED', field: 'nsfw' },
    { name: 'bulk: null set.nsfw', method: 'post', path: '/characters/bulk', body: { ids: [characterId], set: { nsfw: null } }, status: 400, code: 'VALIDATION_FAILED', field: 'set.nsfw' },
    { name: 'bulk: null set.tags', method: 'post', path: '/characters/bulk', body: { ids: [characterId], set: { tags: null } }, status: 400, code: 'VALIDATION_FAILED', field: 'set.tags' },
    { name: 'preferences: null showNsfw', method: 'patch', path: '/users/me/preferences', body: { showNsfw: null }, status: 400, code: 'VALIDATION_FAILED', field: 'showNsfw' },
    { name: 'preferences: null language', method: 'patch', path: '/users/me/preferences', body: { language: null }, status: 400, code: 'VALIDATION_FAILED', field: 'language' },
    { name: 'generation: null parameters', method: 'post', path: `/characters/${characterId}/generations`, body: { prompt: 'p', parameters: null }, status: 400, code: 'VALIDATION_FAILED', field: 'parameters' },
    { name: 'generation: null width', method: 'post', path: `/characters/${characterId}/generations`, body: { prompt: 'p', parameters: { width: null } }, status: 400, code: 'VALIDATION_FAILED', field: 'parameters.width' },
    { name: 'preferences: wrong type', method: 'patch', path: '/users/me/preferences', body: { showNsfw: 'true' }, status: 400, code: 'VALIDATION_FAILED', field: 'showNsfw' },
    { name: 'preferences: nothing to change', method: 'patch', path: '/users/me/preferences', body: {}, status: 400, code: 'VALIDATION_FAILED', field: 'body' },
    // JSON only (uploads take multipart): other types were parsed to nothing or to a string, then blamed on fields
    { name: 'gzip body', method: 'post', path: '/characters', raw: { type: 'application/json', data: gzipSync('{"name":"a"}') }, headers: { 'Content-Encoding': 'gzip' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'Content-Encoding' },
    { name: 'JSON sent as text/plain', method: 'post', path: '/characters', raw: { type: 'text/plain', data: '{"name":"a"}' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'multipart on a JSON route', method: 'patch', path: '/users/me/preferences', raw: { type: 'multipart/form-data; boundary=x', data: '--x\r\nContent-Disposition: form-data; name="showNsfw"\r\n\r\ntrue\r\n--x--\r\n' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'preferences: unknown language', method: 'patch', path: '/users/me/preferences', body: { language: 'xx' }, status: 400, code: 'VALIDATION_FAILED', field: 'language' },
    { name: 'preferences: unknown field', method: 'patch', path: '/users/me/preferences', body: { theme: 'dark' }, status: 400, code: 'VALIDATION_FAILED', field: 'theme' },
    { name: 'register: bad username', method: 'post', path: '/auth/register', body: { username: 'A!', email: 'a@example.com', password: 'long enough pw' }, status: 400, code: 'VALIDATION_FAILED', field: 'username' },
    { name: 'register: bad email', method: 'post', path: '/auth/register', body: { username: 'abc', email: 'nope', password: 'long enough pw' }, status: 400, code: 'VALIDATION_FAILED', field: 'email' },
    { name: 'register: short password', method: 'post', path: '/auth/register', body: { username: 'abc', email: 'a@example.com', password: 'short' }, status: 400, code: 'VALIDATION_FAILED', field: 'password' },
    { name: 'register: role smuggled', method: 'post', path: '/auth/register', body: { username: 'abc', email: 'a@example.com', password: 'long enough pw', role: 'admin' }, status: 400, code: 'VALIDATION_FAILED', field: 'role' },
    { name: 'login: missing password', method: 'post', path: '/auth/login', body: { username: 'abc' }, status: 400, code: 'VALIDATION_FAILED', field: 'password' },
    { name: 'admin: bad tier', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'gold', status: 'active' }, status: 400, code: 'VALIDATION_FAILED', field: 'tier' },
    { name: 'admin: bad renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: 'tomorrow' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    { name: 'admin: non-uuid user', method: 'put', path: '/admin/users/abc/subscription', body: { tier: 'pro', status: 'active' }, status: 400, code: 'VALIDATION_FAILED', field: 'id' },
    // bodies no field can take, refused before any validator or query sees them
    { name: 'NUL in a name', method: 'post', path: '/characters', body: { name: 'a\u0000b' }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'NUL in a login name', method: 'post', path: '/auth/login', body: { username: 'a\u0000', password: 'x' }, status: 400, code: 'VALIDATION_FAILED', field: 'username' },
    { name: 'NUL in a nested field', method: 'post', path: `/characters/${characterId}/generations`, body: { prompt: 'ok', parameters: { negativePrompt: 'a\u0000' } }, status: 400, code: 'VALIDATION_FAILED', field: 'parameters.negativePrompt' },
    { name: 'lone surrogate in an email', method: 'post', path: '/auth/register', body: { username: 'abc', email: 'a\ud800@example.com', password: 'long enough pw' }, status: 400, code: 'VALIDATION_FAILED', field: 'email' },
    { name: 'lone surrogate in a description', method: 'post', path: '/characters', body: { name: 'a', description: 'x\udc00' }, status: 400, code: 'VALIDATION_FAILED', field: 'description' },
    { name: 'JSON nested 3000 deep', method: 'post', path: '/auth/login', raw: { type: 'application/json', data: `{"username":${'['.repeat(3000)}${']'.repeat(3000)}}` }, status: 400, code: 'VALIDATION_FAILED', field: 'username' },
    { name: 'a __proto__ key', method: 'post', path: '/characters', raw: { type: 'application/json', data: '{"name":"a","__proto__":{"premium":true}}' }, status: 400, code: 'VALIDATION_FAILED', field: '__proto__' },
    { name: 'a constructor.prototype key', method: 'post', path: '/characters', raw: { type: 'application/json', data: '{"name":"a","constructor":{"prototype":{"premium":true}}}' }, status: 400, code: 'VALIDATION_FAILED', field: 'constructor' },
    { name: 'a key named after Object.prototype', method: 'patch', path: `/characters/${characterId}`, body: { constructor: 1 }, status: 400, code: 'VALIDATION_FAILED', field: 'constructor' },
    { name: 'invalid UTF-8', method: 'post', path: '/characters', raw: { type: 'application/json', data: Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }, status: 400, code: 'MALFORMED_JSON' },
    { name: 'version out of int4 range', method: 'patch', path: `/characters/${characterId}`, body: { name: 'b', version: 2 ** 31 }, status: 400, code: 'VALIDATION_FAILED', field: 'version' },
    { name: 'admin: week-date renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: '2024-W01-1' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    { name: 'admin: ordinal-date renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: '2024-366' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    // Date.parse rolls these over into other days (31 February is 3 March): stored, they would be another date
    { name: 'admin: 31 February renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: '2026-02-31T00:00:00Z' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    { name: 'admin: 24:00 renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: '2026-01-01T24:00:00Z' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    { name: 'admin: six-digit-year renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: '+2024-01-01T00:00:00Z' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    // routing, and requests refused before any route
    { name: 'unknown route', method: 'get', path: '/nope', status: 404, code: 'NOT_FOUND' },
    { name: 'a method the path does not take', method: 'put', path: `/characters/${characterId}`, body: { name: 'b' }, status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'a method the collection does not take', method: 'delete', path: '/characters', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'undecodable URL', method: 'get', path: '/characters/%zz', status: 400, code: 'BAD_URL' },
    { name: 'path segment over the router limit', method: 'get', path: `/characters/${long(101)}`, status: 414, code: 'URI_TOO_LONG' },
    { name: 'request line over the header limit', method: 'get', path: `/characters?q=${long(20_000)}`, status: 431, code: 'HEADERS_TOO_LARGE' },
  ];

  it('answers every bad input with a 4xx naming the field, and writes nothing', async () => {
    const failures: string[] = [];
    for (const c of cases()) {
      const before = await tableCounts(t);
      const auth = c.path.startsWith('/admin') ? admin.auth : user.auth;
      let req = t.http[c.method](c.path).set(auth);
      for (const [k, v] of Object.entries(c.headers ?? {})) {
        req = req.set(k, v);
      }
      // Raw bytes go as they are (superagent would otherwise send a Buffer as its JSON form).
      const res = c.raw
        ? await req.set('Content-Type', c.raw.type).serialize((data: string) => data).send(c.raw.data as string)
        : await req.send(c.body as object);
      const problems: string[] = [];
      if (res.status !== c.status) {
        problems.push(`status ${res.status} (wanted ${c.status})`);
      }
      if (!res.headers['content-type']?.startsWith('application/json')) {
        problems.push(`content-type ${res.headers['content-type']}`);
      }
      if (res.headers['cache-control'] !== 'no-store') {
        problems.push(`cache-control ${res.headers['cache-control']}`);
      }
      const { statusCode, error, code, message } = res.body ?? {};
      if (statusCode !== c.status || typeof error !== 'string' || code !== c.code || typeof message !== 'string') {
        problems.push(`body ${JSON.stringify(res.body).slice(0, 300)}`);
      }
      if (c.field && !(res.body.details ?? []).some((d: { field: string }) => d.field === c.field || d.field.startsWith(`${c.field}[`))) {
        problems.push(`details do not name ${c.field}: ${JSON.stringify(res.body.details)}`);
      }
      if (JSON.stringify(await tableCounts(t)) !== JSON.stringify(before)) {
        problems.push('something was written');
      }
      if (problems.length > 0) {
        failures.push(`${c.name}: ${problems.join('; ')}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('gives the answers to URLs refused before routing a request id, as every other answer has', async () => {
    for (const path of ['/characters/%zz', `/characters/${long(101)}`]) {
      const res = await t.http.get(path).set('X-Request-Id', 'refused-url-1');
      expect({ path, status: res.status, id: res.headers['x-request-id'] }).toEqual({ path, status: expect.any(Number), id: 'refused-url-1' });
      const fresh = await t.http.get(path);
      expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('lists only the constraints a value breaks, not every check of its field', async () => {
    const cases: [path: string, body: object | undefined, details: { field: string; message: string }[]][] = [
      ['/characters?page=-1', undefined, [{ field: 'page', message: 'page must not be less than 1' }]],
      ['/characters?page=abc', undefined, [{ field: 'page', message: 'page must be an integer number' }]],
      ['/characters?page=1.5&limit=1000', undefined, [{ field: 'page', message: 'page must be an integer number' }, { field: 'limit', message: 'limit must not be greater than 100' }]],
      ['/characters', { name: 42 }, [{ field: 'name', message: 'name must be a string' }]],
      ['/characters', { name: 'a', tags: 'x' }, [{ field: 'tags', message: 'tags must be an array' }]],
    ];
    for (const [path, body, details] of cases) {
      const res = body ? await t.http.post(path).set(user.auth).send(body) : await t.http.get(path);
      expect({ path, body, status: res.status, details: res.body.details }).toEqual({ path, body, status: 400, details });
    }
  });

  it('answers requests Node refuses before routing (malformed HTTP) in the error shape, with a request id, and closes', async () => {
    const cases: [name: string, request: string, status: number, code: string][] = [
      ['garbage request line', 'GARBAGE\r\n\r\n', 400, 'BAD_REQUEST'],
      ['Content-Length with Transfer-Encoding', 'POST /characters HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'BAD_REQUEST'],
      ['a 20 KB header', `GET /characters HTTP/1.1\r\nHost: x\r\nX-Pad: ${long(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
      // REQUEST_TIMEOUT_MS is 1.5 s here: the connection was held for good before (Fastify turns Node's limit off).
      ['a body that never arrives', `POST /characters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\nAuthorization: ${user.auth.Authorization}\r\n\r\n{"name":"a"}`, 408, 'REQUEST_TIMEOUT'],
    ];
    for (const [name, request, status, code] of cases) {
      const before = await tableCounts(t);
      const answer = parseRawAnswer(await rawExchange(t, request));
      expect({ name, status: answer.status }).toEqual({ name, status });
      expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.parse(answer.body)).toEqual({ statusCode: status, error: expect.any(String), code, message: expect.any(String) });
      expect(await tableCounts(t)).toEqual(before);
    }
  });

  it('echoes a well-formed X-Request-Id of a refused request, and logs the refusal under it', async () => {
    // The test app's logger is silent: what it is asked to write is seen through a spy.
    const info = jest.spyOn(t.app.get<PinoInstance>(ROOT_LOGGER), 'info');
    const answer = parseRawAnswer(await rawExchange(t, `GET /characters HTTP/1.1\r\nHost: x\r\nX-Request-Id: refused-1\r\nX-Pad: ${long(20_000)}\r\n\r\n`));
    expect(answer.status).toBe(431);
    expect(answer.headers.get('x-request-id')).toBe('refused-1');
    // One sent twice is no id to trust: a new one.
    const twice = parseRawAnswer(await rawExchange(t, 'GARBAGE / HTTP/1.1\r\nX-Request-Id: a\r\nX-Request-Id: b\r\n\r\n'));
    expect(twice.status).toBe(400);
    expect(twice.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(info).toHaveBeenCalledWith(expect.objectContaining({ reqId: 'refused-1', code: 'HEADERS_TOO_LARGE', res: { statusCode: 431 } }), 'request refused');
    // Those Fastify's router refuses reach no hook either (no request log line): logged the same way, once.
    info.mockClear();
    const badUrl = await t.http.get('/characters/%zz').set('X-Request-Id', 'refused-2').expect(400);
    expect(badUrl.headers['x-request-id']).toBe('refused-2');
    const refusals = info.mock.calls.filter((call) => call[1] === 'request refused');
    expect(refusals).toEqual([[expect.objectContaining({ reqId: 'refused-2', code: 'BAD_URL', res: { statusCode: 400 } }), 'request refused']]);
    info.mockRestore();
  });

  it('answers a method a known path does not take with 405 and the methods it does take in Allow', async () => {
    const res = await t.http.put(`/characters/${characterId}`).set(user.auth).send({ name: 'b' }).expect(405);
    expect(res.headers.allow).toBe('DELETE, GET, HEAD, PATCH');
    expect(res.body).toMatchObject({ statusCode: 405, code: 'METHOD_NOT_ALLOWED' });
    // A path no route has is still a 404.
    await t.http.put('/nothing-here').send({}).expect(404);
  });

  it('takes a JSON content type with an empty body as no body (a DELETE from a client that always sets it)', async () => {
    const doomed = await createCharacter(t, user);
    const res = await t.http.delete(`/characters/${doomed.id}`).set(user.auth).set('Content-Type', 'application/json');
    expect(res.status).toBe(204);
    expect((await t.db.query('SELECT 1 FROM characters WHERE id = $1', [doomed.id])).rowCount).toBe(0);
  });
});
