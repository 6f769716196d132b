import * as argon2 from 'argon2';
import { sign } from 'jsonwebtoken';
import { createUser, tableCounts } from './support/fixtures';
import { OwnRedis, scanKeys } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';

describe('auth', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await bootTestApp();
  });
  afterAll(() => t.close());

  it('registers, logs in and identifies the caller', async () => {
    const reg = await t.http
      .post('/auth/register')
      .send({ username: 'ada_l', email: 'Ada@Example.com', password: 'correct horse battery' })
      .expect(201);
    expect(reg.body).toMatchObject({ tokenType: 'Bearer', user: { username: 'ada_l', email: 'ada@example.com' } });
    expect(reg.body.user).not.toHaveProperty('passwordHash');

    const login = await t.http.post('/auth/login').send({ username: 'ada_l', password: 'correct horse battery' }).expect(200);
    // Usernames are lower-case only: a phone keyboard's capital is the same user.
    await t.http.post('/auth/login').send({ username: 'Ada_L', password: 'correct horse battery' }).expect(200);
    const me = await t.http.get('/users/me').set('Authorization', `Bearer ${login.body.accessToken}`).expect(200);
    expect(me.body).toMatchObject({ username: 'ada_l', role: 'user', subscription: { tier: 'free' } });

    const { rows } = await t.db.query(`SELECT password_hash FROM users WHERE username = 'ada_l'`);
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
  });

  it('never says which of username and password was wrong', async () => {
    await createUser(t, {}, 'known_user');
    const wrongPassword = await t.http.post('/auth/login').send({ username: 'known_user', password: 'nope-nope' }).expect(401);
    const unknownUser = await t.http.post('/auth/login').send({ username: 'nobody_here', password: 'nope-nope' }).expect(401);
    expect(wrongPassword.body).toEqual(unknownUser.body);
    expect(wrongPassword.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      code: 'INVALID_CREDENTIALS',
      message: 'Invalid username or password',
    });
  });

  it('rejects duplicate usernames and e-mails with 409 naming the field, writing nothing', async () => {
    await createUser(t, {}, 'dupe_user');
    const before = await tableCounts(t);
    const byName = await t.http
      .post('/auth/register')
      .send({ username: 'dupe_user', email: 'other@example.com', password: 'correct horse battery' })
      .expect(409);
    expect(byName.body).toMatchObject({ code: 'USERNAME_TAKEN', details: [{ field: 'username' }] });
    const byEmail = await t.http
      .post('/auth/register')
      .send({ username: 'other_user', email: 'DUPE_USER@example.com', password: 'correct horse battery' })
      .expect(409);
    expect(byEmail.body).toMatchObject({ code: 'EMAIL_TAKEN', details: [{ field: 'email' }] });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('takes an e-mail written precomposed (NFC) or decomposed (NFD) as one address', async () => {
    await t.http
      .post('/auth/register')
      .send({ username: 'renee_nfc', email: 'ren\u00e9e@example.com', password: 'correct horse battery' })
      .expect(201);
    const before = await tableCounts(t);
    const decomposed = await t.http
      .post('/auth/register')
      .send({ username: 'renee_nfd', email: 'rene\u0301e@example.com', password: 'correct horse battery' })
      .expect(409);
    expect(decomposed.body).toMatchObject({ code: 'EMAIL_TAKEN', details: [{ field: 'email' }] });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('takes a password typed precomposed (NFC) or decomposed (NFD) as one password, and moves older hashes to NFC', async () => {
    const nfc = 'cr\u00e8me br\u00fbl\u00e9e';
    const nfd = nfc.normalize('NFD');
    await t.http.post('/auth/register').send({ username: 'creme_nfd', email: 'creme_nfd@example.com', password: nfd }).expect(201);
    await t.http.post('/auth/login').send({ username: 'creme_nfd', password: nfc }).expect(200);
    await t.http.post('/auth/login').send({ username: 'creme_nfd', password: nfd }).expect(200);

    // A hash made before passwords were normalized, from the NFD bytes one keyboard sent.
    const legacy = await createUser(t, {}, 'creme_legacy');
    await t.db.query(`UPDATE users SET password_hash = $2 WHERE id = $1`, [legacy.id, await argon2.hash(nfd)]);
    await t.http.post('/auth/login').send({ username: 'creme_legacy', password: nfd }).expect(200);
    const { rows } = await t.db.query(`SELECT password_hash FROM users WHERE id = $1`, [legacy.id]);
    expect(await argon2.verify(rows[0].password_hash, nfc)).toBe(true);
    await t.http.post('/auth/login').send({ username: 'creme_legacy', password: nfc }).expect(200);
    await t.http.post('/auth/login').send({ username: 'creme_legacy', password: 'creme brulee' }).expect(401);
  });

  it.each([
    ['missing token', undefined, 'AUTH_REQUIRED'],
    ['not a bearer token', 'Basic abc', 'INVALID_TOKEN'],
    ['garbage token', 'Bearer abc.def.ghi', 'INVALID_TOKEN'],
  ])('refuses %s with 401', async (_name, header, code) => {
    const req = t.http.get('/users/me');
    if (header) {
      void req.set('Authorization', header);
    }
    const res = await req.expect(401);
    expect(res.body).toMatchObject({ statusCode: 401, code });
  });

  it('refuses a token signed with another secret', async () => {
    const { JwtService } = await import('@nestjs/jwt');
    const user = await createUser(t);
    const forged = new JwtService({ secret: 'x'.repeat(40) }).sign({ sub: user.id });
    await t.http.get('/users/me').set('Authorization', `Bearer ${forged}`).expect(401);
  });

  it('accepts a token signed elsewhere with the configured secret as a plain string (the key is its UTF-8 bytes)', async () => {
    const { ConfigService } = await import('@nestjs/config');
    const user = await createUser(t);
    const secret = t.app.get(ConfigService).getOrThrow<{ jwtSecret: string }>('auth').jwtSecret;
    const token = sign({ sub: user.id }, secret, { algorithm: 'HS256', expiresIn: 60 });
    await t.http.get('/users/me').set('Authorization', `Bearer ${token}`).expect(200);
    const unsigned = sign({ sub: user.id }, '', { algorithm: 'none' });
    await t.http.get('/users/me').set('Authorization', `Bearer ${unsigned}`).expect(401);
  });

  it('refuses a token signed with the right key whose sub is not a user id (401, never a 500)', async () => {
    const { JwtService } = await import('@nestjs/jwt');
    const jwt = t.app.get(JwtService);
    const user = await createUser(t);
    for (const claims of [{}, { sub: null }, { sub: [user.id] }, { sub: 42 }, { sub: 'not-a-uuid' }]) {
      const res = await t.http.get('/users/me').set('Authorization', `Bearer ${jwt.sign(claims)}`);
      expect({ claims, status: res.status, code: res.body.code }).toEqual({ claims, status: 401, code: 'INVALID_TOKEN' });
    }
  });

  it('refuses a token whose user was deleted', async () => {
    const user = await createUser(t);
    await t.db.query(`DELETE FROM users WHERE id = $1`, [user.id]);
    const res = await t.http.get('/users/me').set(user.auth).expect(401);
    expect(res.body.code).toBe('INVALID_TOKEN');
  });
});

describe('login rate limit', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await bootTestApp({ LOGIN_RATE_LIMIT: '3', LOGIN_RATE_WINDOW_MS: '60000' });
  });
  afterAll(() => t.close());

  it('answers 429 once the limit is spent', async () => {
    for (let i = 0; i < 3; i++) {
      await t.http.post('/auth/login').send({ username: 'nobody_here', password: 'x' }).expect(401);
    }
    const res = await t.http.post('/auth/login').send({ username: 'nobody_here', password: 'x' }).expect(429);
    expect(res.body).toMatchObject({ statusCode: 429, code: 'TOO_MANY_REQUESTS' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  /** Statuses of wrong logins, each claiming another client address in X-Forwarded-For. */
  async function rotatingForwardedFor(app: TestApp, count: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) {
      const res = await app.http
        .post('/auth/login')
        .set('X-Forwarded-For', `203.0.113.${i + 1}`)
        .send({ username: 'nobody_at_all', password: `guess-${i}` });
      statuses.push(res.status);
    }
    return statuses;
  }

  it('cannot be walked around by claiming another address in X-Forwarded-For (no proxy trusted by default)', async () => {
    const direct = await bootTestApp({ LOGIN_RATE_LIMIT: '3', LOGIN_RATE_WINDOW_MS: '60000' });
    try {
      expect(await rotatingForwardedFor(direct, 5)).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await direct.close();
    }
  });

  it('behind one trusted proxy (TRUST_PROXY=1), counts per address that proxy saw, not per address a client wrote', async () => {
    const behindIngress = await bootTestApp({ LOGIN_RATE_LIMIT: '3', LOGIN_RATE_WINDOW_MS: '60000', TRUST_PROXY: '1' });
    try {
      // The proxy appends the address it saw: a client's own entries come before it and are not trusted.
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await behindIngress.http
          .post('/auth/login')
          .set('X-Forwarded-For', `203.0.113.${i + 1}, 198.51.100.7`)
          .send({ username: 'nobody_at_all', password: `guess-${i}` });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await behindIngress.close();
    }
  });
});

describe('register rate limit', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await bootTestApp({ REGISTER_RATE_LIMIT: '2', REGISTER_RATE_WINDOW_MS: '3600000', LOGIN_RATE_LIMIT: '2' });
  });
  afterAll(() => t.close());

  const register = (i: number) =>
    t.http.post('/auth/register').send({ username: `signup_${i}`, email: `signup_${i}@example.com`, password: 'correct horse battery' });

  it('answers 429 past the limit, before hashing or writing anything, and counts logins apart', async () => {
    expect((await register(1)).status).toBe(201);
    expect((await register(2)).status).toBe(201);
    const before = await tableCounts(t);
    const refused = await register(3);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ statusCode: 429, code: 'TOO_MANY_REQUESTS' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
    expect(await tableCounts(t)).toEqual(before);
    // A taken address is not a free probe either: the refusal comes before the lookup.
    expect((await t.http.post('/auth/register').send({ username: 'signup_x', email: 'signup_1@example.com', password: 'correct horse battery' })).status).toBe(429);
    // Login has a counter (and limit) of its own: the two signups can still log in.
    await t.http.post('/auth/login').send({ username: 'signup_1', password: 'correct horse battery' }).expect(200);
    await t.http.post('/auth/login').send({ username: 'signup_2', password: 'correct horse battery' }).expect(200);
  });
});

describe('login rate limit with Redis (several instances)', () => {
  let redis: OwnRedis;
  const limited = { LOGIN_RATE_LIMIT: '3', LOGIN_RATE_WINDOW_MS: '60000' };

  beforeAll(async () => {
    redis = await OwnRedis.start();
  });
  afterAll(() => redis.stop());

  const wrongLogin = (app: TestApp, i: number) => app.http.post('/auth/login').send({ username: 'nobody_anywhere', password: `guess-${i}` });

  it('counts the attempts on every instance against one limit, and keeps no client address in Redis', async () => {
    const a = await bootTestApp({ ...limited, REDIS_URL: redis.url });
    const b = await bootTestApp({ ...limited, REDIS_URL: redis.url, DATABASE_URL: a.databaseUrl });
    try {
      const answers = [];
      for (let i = 0; i < 6; i++) {
        answers.push(await wrongLogin(i % 2 === 0 ? a : b, i));
      }
      // Per instance, each would have allowed 3: six attempts, all answered 401.
      expect(answers.map((r) => r.status)).toEqual([401, 401, 401, 429, 429, 429]);
      // The standard header, which a client (and the CORS configuration) knows.
      expect(Number(answers[3].headers['retry-after'])).toBeGreaterThan(0);
      const raw = redis.client();
      const keys = await scanKeys(raw, '*%limit*');
      raw.disconnect();
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.join(' ')).not.toMatch(/127\.0\.0\.1|::1|ffff/);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('counts on each instance while Redis is down, and a login never fails because of it', async () => {
    const own = await OwnRedis.start();
    const a = await bootTestApp({ ...limited, REDIS_URL: own.url });
    try {
      await own.kill();
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await wrongLogin(a, i)).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await a.close();
      await own.stop();
    }
  });
});
