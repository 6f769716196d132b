import { createCharacter, createUser, tableCounts, TestUser } from './support/fixtures';
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
    t = await bootTestApp({ BODY_LIMIT_BYTES: '65536' });
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
    { name: 'page twice', method: 'get', path: '/characters?page=1&page=2', status: 400, code: 'VALIDATION_FAILED', field: 'page' },
    { name: 'limit=1000', method: 'get', path: '/characters?limit=1000', status: 400, code: 'VALIDATION_FAILED', field: 'limit' },
    { name: 'limit=0', method: 'get', path: '/characters?limit=0', status: 400, code: 'VALIDATION_FAILED', field: 'limit' },
    { name: 'unknown mode', method: 'get', path: '/characters?mode=trending', status: 400, code: 'VALIDATION_FAILED', field: 'mode' },
    { name: 'bad tag', method: 'get', path: '/characters?tag=a%20b', status: 400, code: 'VALIDATION_FAILED', field: 'tag' },
    { name: 'over-long q', method: 'get', path: `/characters?q=${long(101)}`, status: 400, code: 'VALIDATION_FAILED', field: 'q' },
    { name: 'unknown query field', method: 'get', path: '/characters?sort=name', status: 400, code: 'VALIDATION_FAILED', field: 'sort' },
    { name: 'bad username', method: 'get', path: '/users/Not-Valid', status: 400, code: 'VALIDATION_FAILED', field: 'username' },
    // bodies
    { name: 'missing name', method: 'post', path: '/characters', body: {}, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'blank name', method: 'post', path: '/characters', body: { name: '   ' }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'over-long name', method: 'post', path: '/characters', body: { name: long(81) }, status: 400, code: 'VALIDATION_FAILED', field: 'name' },
    { name: 'over-long description', method: 'post', path: '/characters', body: { name: 'a', description: long(2001) }, status: 400, code: 'VALIDATION_FAILED', field: 'description' },
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
    { name: 'malformed JSON', method: 'post', path: '/characters', raw: { type: 'application/json', data: '{"name": "a",' }, status: 400, code: 'MALFORMED_JSON' },
    { name: 'oversized body', method: 'post', path: '/characters', raw: { type: 'application/json', data: JSON.stringify({ name: 'a', description: long(70_000) }) }, status: 413, code: 'PAYLOAD_TOO_LARGE' },
    { name: 'wrong content type', method: 'post', path: '/characters', raw: { type: 'text/csv', data: 'name\na' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'bad If-Match', method: 'patch', path: `/characters/${characterId}`, body: { name: 'b' }, headers: { 'If-Match': 'abc' }, status: 400, code: 'VALIDATION_FAILED', field: 'If-Match' },
    { name: 'bulk: empty ids', method: 'post', path: '/characters/bulk', body: { ids: [], set: { nsfw: true } }, status: 400, code: 'VALIDATION_FAILED', field: 'ids' },
    { name: 'bulk: 501 ids', method: 'post', path: '/characters/bulk', body: { ids: Array.from({ length: 501 }, () => characterId), set: { nsfw: true } }, status: 400, code: 'VALIDATION_FAILED', field: 'ids' },
    { name: 'bulk: non-uuid id', method: 'post', path: '/characters/bulk', body: { ids: ['x'], set: { nsfw: true } }, status: 400, code: 'VALIDATION_FAILED', field: 'ids' },
    { name: 'bulk: empty set', method: 'post', path: '/characters/bulk', body: { ids: [characterId], set: {} }, status: 400, code: 'VALIDATION_FAILED', field: 'set' },
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
    { name: 'a key named after Object.prototype', method: 'patch', path: `/characters/${characterId}`, body: { constructor: 1 }, status: 400, code: 'VALIDATION_FAILED', field: 'constructor' },
    { name: 'invalid UTF-8', method: 'post', path: '/characters', raw: { type: 'application/json', data: Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }, status: 400, code: 'MALFORMED_JSON' },
    { name: 'version out of int4 range', method: 'patch', path: `/characters/${characterId}`, body: { name: 'b', version: 2 ** 31 }, status: 400, code: 'VALIDATION_FAILED', field: 'version' },
    { name: 'admin: week-date renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: '2024-W01-1' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    { name: 'admin: ordinal-date renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: '2024-366' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    { name: 'admin: six-digit-year renewsAt', method: 'put', path: `/admin/users/${user.id}/subscription`, body: { tier: 'pro', status: 'active', renewsAt: '+2024-01-01T00:00:00Z' }, status: 400, code: 'VALIDATION_FAILED', field: 'renewsAt' },
    // routing
    { name: 'unknown route', method: 'get', path: '/nope', status: 404, code: 'NOT_FOUND' },
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
});
