import { ResponseReplay } from '../src/http-cache/response-replay';
import { createCharacter, createUser, TestUser } from './support/fixtures';
import { parseRawAnswer, rawExchange } from './support/raw-http';
import { OwnRedis } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';

const FRONTEND = 'https://cards.example.com';

/**
 * CORS for the frontends in CORS_ORIGINS: an allowed origin can read every answer (replayed cache hits and errors
 * included), any other gets no CORS headers, and every answer varies by Origin so a shared cache never hands one
 * origin's answer to another.
 */
describe('CORS', () => {
  jest.setTimeout(30_000);
  let redis: OwnRedis;
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await bootTestApp({ REDIS_URL: redis.url, CORS_ORIGINS: `${FRONTEND}, http://localhost:5173` });
    owner = await createUser(t);
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  const varies = (vary: string | undefined) => (vary ?? '').split(',').map((field) => field.trim().toLowerCase());

  it('lets an allowed origin read a cached answer, replayed or not, and expose its ETag', async () => {
    const c = await createCharacter(t, owner, { name: 'Cors Card' });
    const replay = t.app.get(ResponseReplay);
    const before = replay.counts.replayed;
    for (const expected of ['answered by Nest', 'replayed']) {
      const res = await t.http.get(`/characters/${c.id}`).set('Origin', FRONTEND);
      expect({ expected, status: res.status }).toEqual({ expected, status: 200 });
      expect(res.headers['access-control-allow-origin']).toBe(FRONTEND);
      expect(res.headers['access-control-expose-headers']).toMatch(/\bETag\b/);
      expect(varies(res.headers.vary)).toEqual(expect.arrayContaining(['origin', 'authorization']));
      expect(res.headers.etag).toBeDefined();
    }
    expect(replay.counts.replayed - before).toBe(1);
  });

  it('gives an origin that is not allowed no CORS headers, on an answer that still varies by Origin', async () => {
    const c = await createCharacter(t, owner, { name: 'Cors Stranger' });
    for (let i = 0; i < 2; i++) {
      const res = await t.http.get(`/characters/${c.id}`).set('Origin', 'https://evil.example');
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(varies(res.headers.vary)).toContain('origin');
    }
  });

  it('answers a preflight from an allowed origin, and not one from another', async () => {
    const ok = await t.http
      .options('/characters')
      .set('Origin', 'http://localhost:5173')
      .set('Access-Control-Request-Method', 'PATCH')
      .set('Access-Control-Request-Headers', 'authorization, content-type, if-match');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(ok.headers['access-control-allow-methods']).toMatch(/\bPATCH\b/);
    expect(ok.headers['access-control-allow-headers']).toMatch(/\bAuthorization\b.*\bIf-Match\b/);
    const refused = await t.http.options('/characters').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'PATCH');
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('lets an allowed origin read errors and writes too', async () => {
    const missing = await t.http.get('/characters/00000000-0000-4000-8000-000000000000').set('Origin', FRONTEND);
    expect(missing.status).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toBe(FRONTEND);
    expect(missing.body.code).toBe('NOT_FOUND');
    const created = await t.http.post('/characters').set(owner.auth).set('Origin', FRONTEND).send({ name: 'Cors Write' });
    expect(created.status).toBe(201);
    expect(created.headers['access-control-allow-origin']).toBe(FRONTEND);
  });

  it('lets an allowed origin read the answers to URLs refused before routing, with their request id', async () => {
    const refused = [
      ['/characters/%zz', 400, 'BAD_URL'],
      [`/characters/${'x'.repeat(101)}`, 414, 'URI_TOO_LONG'],
    ] as const;
    for (const [path, status, code] of refused) {
      const res = await t.http.get(path).set('Origin', FRONTEND).set('X-Request-Id', `cors-${code}`);
      expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status, code });
      expect(res.headers['access-control-allow-origin']).toBe(FRONTEND);
      expect(res.headers['access-control-expose-headers']).toMatch(/\bX-Request-Id\b/);
      expect(res.headers['x-request-id']).toBe(`cors-${code}`);
      expect(varies(res.headers.vary)).toContain('origin');
      const stranger = await t.http.get(path).set('Origin', 'https://evil.example');
      expect(stranger.status).toBe(status);
      expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
      expect(stranger.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(varies(stranger.headers.vary)).toContain('origin');
    }
  });

  it('lets an allowed origin read the answer to a request Node refused (headers too large), with its request id', async () => {
    const request = (origin: string) =>
      `GET /characters HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\nX-Request-Id: big-cookie\r\nCookie: c=${'x'.repeat(20_000)}\r\n\r\n`;
    const allowed = parseRawAnswer(await rawExchange(t, request(FRONTEND)));
    expect(allowed.status).toBe(431);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(FRONTEND);
    expect(allowed.headers.get('access-control-expose-headers')).toMatch(/\bX-Request-Id\b/);
    expect(allowed.headers.get('x-request-id')).toBe('big-cookie');
    expect(varies(allowed.headers.get('vary'))).toContain('origin');
    const stranger = parseRawAnswer(await rawExchange(t, request('https://evil.example')));
    expect(stranger.status).toBe(431);
    expect(stranger.headers.has('access-control-allow-origin')).toBe(false);
    expect(varies(stranger.headers.get('vary'))).toContain('origin');
    // An Origin line cut off where the bytes end is not read (it could be a prefix of another origin).
    const cut = parseRawAnswer(await rawExchange(t, `GARBAGE / HTTP/1.1\r\nOrigin: ${FRONTEND}`));
    expect(cut.status).toBe(400);
    expect(cut.headers.has('access-control-allow-origin')).toBe(false);
  });

  it('sends no CORS headers at all when CORS_ORIGINS is empty (the default)', async () => {
    const plain = await bootTestApp({ DATABASE_URL: t.databaseUrl, REDIS_URL: redis.url });
    try {
      const c = await createCharacter(plain, owner, { name: 'No Cors' });
      const res = await plain.http.get(`/characters/${c.id}`).set('Origin', FRONTEND);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(varies(res.headers.vary)).toEqual(['authorization']);
    } finally {
      await plain.close();
    }
  });
});
