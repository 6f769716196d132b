import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp } from '../src/app.setup';
import { DEMO_SEED } from '../src/database/embedded-seeder';

/**
 * "Runs on nothing": no DATABASE_URL, so the app boots on PGlite in a temp directory, migrates and seeds itself,
 * and serves the API. A second boot on the same directory finds its data again.
 */
describe('embedded database (PGlite)', () => {
  jest.setTimeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'cards-pglite-'));
  let app: NestFastifyApplication;

  const boot = async () => {
    delete process.env.DATABASE_URL;
    Object.assign(process.env, { NODE_ENV: 'test', PGLITE_DIR: join(dir, 'db'), STORAGE_LOCAL_DIR: join(dir, 'uploads') });
    const instance = await createApp({ logger: false });
    await instance.init();
    await instance.getHttpAdapter().getInstance().ready();
    return instance;
  };

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates, seeds the demo data, registers, creates and lists', async () => {
    app = await boot();
    const http = request(app.getHttpServer());
    const seeded = await http.get('/characters?limit=1').expect(200);
    expect(seeded.body.total).toBeGreaterThan(0);
    expect(seeded.body.total).toBeLessThanOrEqual(DEMO_SEED.characters);

    const reg = await http
      .post('/auth/register')
      .send({ username: 'embedded_user', email: 'embedded@example.com', password: 'correct horse battery' })
      .expect(201);
    const auth = { Authorization: `Bearer ${reg.body.accessToken}` };
    const created = await http.post('/characters').set(auth).send({ name: 'Embedded One', tags: ['pglite'] }).expect(201);
    const mine = await http.get('/characters?mode=mine').set(auth).expect(200);
    expect(mine.body.items.map((c: { id: string }) => c.id)).toEqual([created.body.id]);
    const tagged = await http.get('/characters?tag=pglite').expect(200);
    expect(tagged.body.total).toBe(1);
    await app.close();
  });

  it('keeps its data across restarts and does not seed twice', async () => {
    app = await boot();
    const http = request(app.getHttpServer());
    const login = await http.post('/auth/login').send({ username: 'embedded_user', password: 'correct horse battery' }).expect(200);
    const mine = await http.get('/characters?mode=mine').set('Authorization', `Bearer ${login.body.accessToken}`).expect(200);
    expect(mine.body.total).toBe(1);
    const users = await http.get('/users/user_1').expect(200);
    expect(users.body.username).toBe('user_1');
    await app.close();
  });

  it('isolates concurrent transactions (optimistic concurrency holds on PGlite too)', async () => {
    app = await boot();
    const http = request(app.getHttpServer());
    const login = await http.post('/auth/login').send({ username: 'embedded_user', password: 'correct horse battery' }).expect(200);
    const auth = { Authorization: `Bearer ${login.body.accessToken}` };
    const c = await http.post('/characters').set(auth).send({ name: 'Race' }).expect(201);
    const results = await Promise.all(
      ['A', 'B', 'C'].map((name) => http.patch(`/characters/${c.body.id}`).set(auth).set('If-Match', '"1"').send({ name })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 412, 412]);
    await app.close();
  });
});
