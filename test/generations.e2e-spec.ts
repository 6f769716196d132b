import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Response } from 'supertest';
import { callbackPath, FakeGenerator, signBody } from './support/fake-generator';
import { createCharacter, createUser, tableCounts, TestUser } from './support/fixtures';
import { bootTestApp, TestApp } from './support/test-app';

const SECRET = 'test-generator-secret-0123456789abcdef';
const PUBLIC_BASE_URL = 'https://api.cards.test';
const CDN_BASE_URL = 'https://cdn.cards.test/media';
const BOOT_TIMEOUT_MS = 30_000;

const baseEnv = (generatorUrl: string, timeoutMs: string): Record<string, string> => ({
  GENERATOR_URL: generatorUrl,
  GENERATOR_TIMEOUT_MS: timeoutMs,
  GENERATOR_WEBHOOK_SECRET: SECRET,
  PUBLIC_BASE_URL,
  CDN_BASE_URL,
});

interface JobRow {
  status: string;
  result: unknown;
  prompt: string;
  parameters: unknown;
  updated_at: string;
}

/** The stored job, updated_at included, to prove a refused request changed nothing at all. */
async function jobRow(t: TestApp, id: string): Promise<JobRow | undefined> {
  const { rows } = await t.db.query<JobRow>(
    `SELECT status, result, prompt, parameters, updated_at::text AS updated_at FROM generation_jobs WHERE id = $1`,
    [id],
  );
  return rows[0];
}

function createGeneration(t: TestApp, characterId: string, user: TestUser | null, body: object | string) {
  const req = t.http.post(`/characters/${characterId}/generations`);
  if (user) {
    void req.set(user.auth);
  }
  if (typeof body === 'string') {
    void req.set('content-type', 'application/json');
  }
  return req.send(body);
}

interface DeliveryOptions {
  /** The exact bytes to send; defaults to JSON of the payload. */
  raw?: string;
  /** The X-Signature header; defaults to a valid signature of the bytes sent; null sends none. */
  signature?: string | null;
  /** The path posted to; defaults to the job's callback path (with its token). */
  path?: string;
}

/** Posts a generator callback, signed like the real generator unless told otherwise. */
function deliver(t: TestApp, jobId: string, payload: object | string, options: DeliveryOptions = {}) {
  const raw = options.raw ?? (typeof payload === 'string' ? payload : JSON.stringify(payload));
  const signature = options.signature === undefined ? signBody(SECRET, raw) : options.signature;
  const req = t.http.post(options.path ?? callbackPath(SECRET, jobId)).set('content-type', 'application/json');
  if (signature !== null) {
    void req.set('x-signature', signature);
  }
  return req.send(raw);
}

interface BadInput {
  name: string;
  body: object | string;
  code: string;
  field: string | null;
  /** Replaces the id in the path. */
  pathId?: string;
}

/** A body that fails validation: 400 VALIDATION_FAILED naming `field`. */
const bad = (name: string, body: object, field: string, pathId?: string): BadInput => ({
  name,
  body,
  code: 'VALIDATION_FAILED',
  field,
  pathId,
});

const MALFORMED_JSON = (raw: string): BadInput => ({
  name: 'malformed JSON',
  body: raw,
  code: 'MALFORMED_JSON',
  field: null,
});

function errorFields(res: Response): string[] {
  return [...new Set(((res.body.details ?? []) as { field: string }[]).map((d) => d.field))];
}

/** The error names the field, and nothing outside it (an array in place of an object also reports its items). */
function expectFieldNamed(res: Response, field: string): void {
  const fields = errorFields(res);
  expect(fields).toContain(field);
  expect(
    fields.filter((f) => f !== field && !f.startsWith(`${field}[`) && !f.startsWith(`${field}.`)),
  ).toEqual([]);
}

const SUCCEEDED = {
  status: 'succeeded',
  images: [
    { storageKey: 'generations/knight/0.png', width: 512, height: 768 },
    { storageKey: 'generations/knight/1.png', width: 512, height: 768 },
  ],
  seed: 42,
  model: 'sdxl-1.0',
};

describe('generations, with a generator that answers', () => {
  let t: TestApp;
  let fake: FakeGenerator;
  let owner: TestUser;
  let stranger: TestUser;
  let admin: TestUser;
  let publicCharacter: { id: string };
  let privateCharacter: { id: string };

  /** A job on the owner's public character, accepted by the generator (status running). */
  async function runningJob(): Promise<string> {
    const res = await createGeneration(t, publicCharacter.id, owner, { prompt: 'a lighthouse' }).expect(202);
    expect(res.body.status).toBe('running');
    return res.body.id as string;
  }

  beforeAll(async () => {
    fake = await FakeGenerator.start(SECRET);
    t = await bootTestApp(baseEnv(fake.url, '2000'));
    owner = await createUser(t);
    stranger = await createUser(t);
    admin = await createUser(t, { role: 'admin' });
    publicCharacter = await createCharacter(t, owner, { visibility: 'public' });
    privateCharacter = await createCharacter(t, owner, { visibility: 'private' });
  }, BOOT_TIMEOUT_MS);

  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  beforeEach(() => fake.reset());
  afterEach(() => expect(fake.errors).toEqual([]));

  it('round trip: signed job with its callback URL, running, signed result, succeeded with CDN URLs', async () => {
    const parameters = {
      width: 512,
      height: 768,
      steps: 30,
      seed: 42,
      model: 'sdxl-1.0',
      negativePrompt: 'blurry',
      guidance: 7.5,
    };
    const created = await createGeneration(t, publicCharacter.id, owner, {
      prompt: '  a knight at dawn  ',
      parameters,
    }).expect(202);
    const jobId = created.body.id as string;
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      characterId: publicCharacter.id,
      status: 'running',
      prompt: 'a knight at dawn',
      parameters,
      result: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });

    expect(fake.received).toHaveLength(1);
    const [job] = fake.received;
    expect(job).toMatchObject({ method: 'POST', path: '/jobs', signatureValid: true });
    expect(job.headers['content-type']).toMatch(/^application\/json/);
    expect(job.body).toEqual({
      jobId,
      characterId: publicCharacter.id,
      prompt: 'a knight at dawn',
      parameters,
      callbackUrl: `${PUBLIC_BASE_URL}${callbackPath(SECRET, jobId)}`,
    });
    expect(await jobRow(t, jobId)).toMatchObject({ status: 'running', result: null });

    const callbackUrl = new URL((job.body as { callbackUrl: string }).callbackUrl);
    const raw = JSON.stringify(SUCCEEDED);
    const delivered = await t.http
      .post(`${callbackUrl.pathname}${callbackUrl.search}`)
      .set('content-type', 'application/json')
      .set('x-signature', signBody(SECRET, raw))
      .send(raw)
      .expect(200);
    expect(delivered.body).toEqual({ applied: true });

    const read = await t.http.get(`/generations/${jobId}`).set(owner.auth).expect(200);
    expect(read.body).toEqual({
      ...created.body,
      status: 'succeeded',
      result: {
        images: [
          { url: `${CDN_BASE_URL}/generations/knight/0.png`, width: 512, height: 768 },
          { url: `${CDN_BASE_URL}/generations/knight/1.png`, width: 512, height: 768 },
        ],
        seed: 42,
        model: 'sdxl-1.0',
        error: null,
      },
      updatedAt: expect.any(String),
    });
    expect(Date.parse(read.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.body.updatedAt));
    // Storage keys are stored, URLs are built on the way out.
    expect((await jobRow(t, jobId))?.result).toEqual({ ...SUCCEEDED, status: undefined, error: null });
  });

  it('keeps a result that arrives before the generator has answered the dispatch', async () => {
    let early: Response | undefined;
    fake.beforeAnswer = async (job) => {
      early = await deliver(t, (job.body as { jobId: string }).jobId, SUCCEEDED);
    };
    const res = await createGeneration(t, publicCharacter.id, owner, { prompt: 'a fast result' }).expect(202);
    expect(early?.status).toBe(200);
    expect(early?.body).toEqual({ applied: true });
    expect(res.body.status).toBe('succeeded');
    expect((await jobRow(t, res.body.id))?.status).toBe('succeeded');
  });

  it('marks the job failed when the generator answers 500, storing a short reason only', async () => {
    fake.behaviour = 'error';
    const res = await createGeneration(t, publicCharacter.id, owner, { prompt: 'a broken dream' }).expect(
      202,
    );
    expect(fake.received).toHaveLength(1);
    expect(res.body).toMatchObject({
      status: 'failed',
      result: { images: [], seed: null, model: null, error: 'generator answered HTTP 500' },
    });
    const stored = JSON.stringify(await jobRow(t, res.body.id));
    expect(stored).toContain('"status":"failed"');
    for (const leak of [SECRET, 'generator exploded', '    at ']) {
      expect(stored).not.toContain(leak);
      expect(JSON.stringify(res.body)).not.toContain(leak);
    }
  });

  it('marks the job failed when the generator drops the connection', async () => {
    fake.behaviour = 'reset';
    const res = await createGeneration(t, publicCharacter.id, owner, { prompt: 'a dropped call' }).expect(
      202,
    );
    expect(fake.received).toHaveLength(1);
    expect(res.body.status).toBe('failed');
    expect(res.body.result.error).toMatch(/^generator unreachable/);
    expect((await jobRow(t, res.body.id))?.status).toBe('failed');
  });

  describe('who may create', () => {
    it.each([
      ['the owner, on a public character', 'owner', 'public'],
      ['the owner, on a private character', 'owner', 'private'],
      ['an admin, on someone else’s private character', 'admin', 'private'],
    ] as const)('%s: 202', async (_name, who, visibility) => {
      const user = who === 'owner' ? owner : admin;
      const character = visibility === 'public' ? publicCharacter : privateCharacter;
      const before = await tableCounts(t);
      const res = await createGeneration(t, character.id, user, { prompt: 'allowed' }).expect(202);
      expect(fake.received).toHaveLength(1);
      const { rows } = await t.db.query(`SELECT owner_id, character_id FROM generation_jobs WHERE id = $1`, [
        res.body.id,
      ]);
      expect(rows).toEqual([{ owner_id: user.id, character_id: character.id }]);
      expect((await tableCounts(t)).jobs).toBe(before.jobs + 1);
    });

    it.each([
      {
        name: 'a stranger, on a public character they can see',
        who: 'stranger',
        visibility: 'public',
        status: 403,
        code: 'NOT_OWNER',
      },
      {
        name: 'a stranger, on a private character they cannot see',
        who: 'stranger',
        visibility: 'private',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'an anonymous caller',
        who: 'anonymous',
        visibility: 'public',
        status: 401,
        code: 'AUTH_REQUIRED',
      },
      {
        name: 'the owner, on a character that does not exist',
        who: 'owner',
        visibility: 'missing',
        status: 404,
        code: 'NOT_FOUND',
      },
    ] as const)('$name: $status, nothing written or sent', async ({ who, visibility, status, code }) => {
      const user = who === 'stranger' ? stranger : who === 'owner' ? owner : null;
      const characterId =
        visibility === 'public'
          ? publicCharacter.id
          : visibility === 'private'
            ? privateCharacter.id
            : randomUUID();
      const before = await tableCounts(t);
      const res = await createGeneration(t, characterId, user, { prompt: 'refused' }).expect(status);
      expect(res.body).toMatchObject({ statusCode: status, code });
      expect(await tableCounts(t)).toEqual(before);
      expect(fake.received).toHaveLength(0);
    });
  });

  describe('who may read', () => {
    let jobId: string;

    beforeAll(async () => {
      jobId = (await createGeneration(t, privateCharacter.id, owner, { prompt: 'mine to read' }).expect(202))
        .body.id;
    });

    it('the owner and an admin see the job', async () => {
      const mine = await t.http.get(`/generations/${jobId}`).set(owner.auth).expect(200);
      const admins = await t.http.get(`/generations/${jobId}`).set(admin.auth).expect(200);
      expect(mine.body).toMatchObject({
        id: jobId,
        characterId: privateCharacter.id,
        prompt: 'mine to read',
        status: 'running',
      });
      expect(admins.body).toEqual(mine.body);
    });

    it('a stranger gets the same 404 as for a job that does not exist', async () => {
      const theirs = await t.http.get(`/generations/${jobId}`).set(stranger.auth).expect(404);
      const missing = await t.http.get(`/generations/${randomUUID()}`).set(stranger.auth).expect(404);
      expect(theirs.body).toEqual(missing.body);
      expect(theirs.body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    });

    it('an anonymous caller gets 401', async () => {
      const res = await t.http.get(`/generations/${jobId}`).expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, code: 'AUTH_REQUIRED' });
    });

    it('a job id that is not a UUID is a 400 naming jobId', async () => {
      const res = await t.http.get('/generations/not-a-uuid').set(owner.auth).expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(errorFields(res)).toEqual(['jobId']);
    });
  });

  it('forgets the jobs of a deleted character at once, though their records were cached', async () => {
    const character = await createCharacter(t, owner);
    const jobId = (await createGeneration(t, character.id, owner, { prompt: 'soon gone' }).expect(202)).body.id;
    await t.http.get(`/generations/${jobId}`).set(owner.auth).expect(200);
    await t.http.delete(`/characters/${character.id}`).set(owner.auth).expect(204);
    expect(await jobRow(t, jobId)).toBeUndefined();
    const res = await t.http.get(`/generations/${jobId}`).set(owner.auth).expect(404);
    expect(res.body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
  });

  describe('bad create input: 400 naming the field, nothing written or sent', () => {
    const prompt = 'a valid prompt';
    it.each<BadInput>([
      bad('a character id that is not a UUID', { prompt }, 'id', 'not-a-uuid'),
      bad('a missing prompt', {}, 'prompt'),
      bad('an empty prompt', { prompt: '' }, 'prompt'),
      bad('a prompt of blanks only', { prompt: '   \n ' }, 'prompt'),
      bad('a prompt over 2000 characters', { prompt: 'x'.repeat(2001) }, 'prompt'),
      bad('a prompt that is a number', { prompt: 42 }, 'prompt'),
      bad('an unknown parameter', { prompt, parameters: { foo: 1 } }, 'parameters.foo'),
      bad('a width not a multiple of 8', { prompt, parameters: { width: 100 } }, 'parameters.width'),
      bad('a width over 2048', { prompt, parameters: { width: 4096 } }, 'parameters.width'),
      bad('a height under 64', { prompt, parameters: { height: 56 } }, 'parameters.height'),
      bad('a width sent as a string', { prompt, parameters: { width: '512' } }, 'parameters.width'),
      bad('zero steps', { prompt, parameters: { steps: 0 } }, 'parameters.steps'),
      bad('a negative seed', { prompt, parameters: { seed: -1 } }, 'parameters.seed'),
      bad('a fractional seed', { prompt, parameters: { seed: 1.5 } }, 'parameters.seed'),
      bad(
        'a model outside [a-z0-9._-]',
        { prompt, parameters: { model: 'SDXL Turbo!' } },
        'parameters.model',
      ),
      bad(
        'a model over 64 characters',
        { prompt, parameters: { model: 'm'.repeat(65) } },
        'parameters.model',
      ),
      bad('a guidance over 30', { prompt, parameters: { guidance: 31 } }, 'parameters.guidance'),
      bad(
        'a negative prompt over 2000',
        { prompt, parameters: { negativePrompt: 'n'.repeat(2001) } },
        'parameters.negativePrompt',
      ),
      bad('parameters as an array', { prompt, parameters: [512, 512] }, 'parameters'),
      bad('parameters as a string', { prompt, parameters: 'fast' }, 'parameters'),
      bad('an unknown body field', { prompt, status: 'succeeded' }, 'status'),
      bad('an owner smuggled in', { prompt, ownerId: randomUUID() }, 'ownerId'),
      MALFORMED_JSON('{"prompt": "unterminated'),
    ])('$name', async ({ body, code, field, pathId: characterId }) => {
      const before = await tableCounts(t);
      const res = await createGeneration(t, characterId ?? publicCharacter.id, owner, body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code });
      if (field !== null) {
        expectFieldNamed(res, field);
      }
      expect(await tableCounts(t)).toEqual(before);
      expect(fake.received).toHaveLength(0);
    });
  });

  describe('the result webhook', () => {
    it.each<[name: string, options: (raw: string) => DeliveryOptions]>([
      [
        'a signature made with another secret',
        (raw) => ({ signature: signBody('another-secret-0123456789abcdef', raw) }),
      ],
      [
        'a body changed after signing',
        (raw) => ({ raw: JSON.stringify({ ...SUCCEEDED, seed: 43 }), signature: signBody(SECRET, raw) }),
      ],
      ['no X-Signature header', () => ({ signature: null })],
      ['a signature that is not hex', () => ({ signature: 'sha256=not-a-signature' })],
      ['an empty signature', () => ({ signature: '' })],
    ])('refuses %s with 401 and changes nothing', async (_name, options) => {
      const jobId = await runningJob();
      const before = await jobRow(t, jobId);
      const raw = JSON.stringify(SUCCEEDED);
      const res = await deliver(t, jobId, SUCCEEDED, { raw, ...options(raw) }).expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, code: 'INVALID_SIGNATURE' });
      expect(await jobRow(t, jobId)).toEqual(before);
      expect(before?.status).toBe('running');
    });

    it('refuses a signed delivery posted to another job, or without its callback token, and changes nothing', async () => {
      // The signature covers the body only: the token in the callback URL is what ties a delivery to its job.
      const [first, other] = [await runningJob(), await runningJob()];
      const before = await jobRow(t, other);
      const replayed = await deliver(t, other, SUCCEEDED, { path: callbackPath(SECRET, first).replace(first, other) }).expect(401);
      expect(replayed.body).toMatchObject({ statusCode: 401, code: 'INVALID_SIGNATURE' });
      await deliver(t, other, SUCCEEDED, { path: `/webhooks/generations/${other}` }).expect(401);
      expect(await jobRow(t, other)).toEqual(before);
      await deliver(t, first, SUCCEEDED).expect(200);
    });

    it('applies the first delivery only; repeats and later results change nothing', async () => {
      const jobId = await runningJob();
      const first = await deliver(t, jobId, SUCCEEDED).expect(200);
      expect(first.body).toEqual({ applied: true });
      const afterFirst = await jobRow(t, jobId);
      expect(afterFirst).toMatchObject({
        status: 'succeeded',
        result: { seed: 42, model: 'sdxl-1.0', error: null },
      });

      const repeat = await deliver(t, jobId, SUCCEEDED).expect(200);
      expect(repeat.body).toEqual({ applied: false });
      expect(await jobRow(t, jobId)).toEqual(afterFirst);

      const different = await deliver(t, jobId, { status: 'failed', error: 'out of memory' }).expect(200);
      expect(different.body).toEqual({ applied: false });
      expect(await jobRow(t, jobId)).toEqual(afterFirst);
    });

    it('takes null for the optional result fields (as a Python generator sends None) and stores them as absent', async () => {
      const succeeded = await runningJob();
      await deliver(t, succeeded, { ...SUCCEEDED, seed: null, model: null, error: null }).expect(200, { applied: true });
      expect(await jobRow(t, succeeded)).toMatchObject({ status: 'succeeded', result: { seed: null, model: null, error: null } });
      const failed = await runningJob();
      await deliver(t, failed, { status: 'failed', error: 'timeout', images: null, seed: null }).expect(200, { applied: true });
      expect(await jobRow(t, failed)).toMatchObject({ status: 'failed', result: { images: [], error: 'timeout' } });
      // Null is no way around what a status needs.
      const another = await runningJob();
      const res = await deliver(t, another, { status: 'failed', error: null }).expect(400);
      expect(JSON.stringify(res.body.details)).toContain('error');
      const noImages = await deliver(t, another, { status: 'succeeded', images: null }).expect(400);
      expect(JSON.stringify(noImages.body.details)).toContain('images');
      expect(await jobRow(t, another)).toMatchObject({ status: 'running' });
    });

    it('refuses images that are not objects (an array of arrays once stored [{}] and broke every read)', async () => {
      const jobId = await runningJob();
      const res = await deliver(t, jobId, { ...SUCCEEDED, images: [SUCCEEDED.images] }).expect(400);
      expect(JSON.stringify(res.body.details)).toContain('images');
      expect(await jobRow(t, jobId)).toMatchObject({ status: 'running' });
      await t.http.get(`/generations/${jobId}`).set(owner.auth).expect(200);
    });

    it('records a failure with its error', async () => {
      const jobId = await runningJob();
      await deliver(t, jobId, { status: 'failed', error: 'NSFW filter triggered', model: 'sdxl-1.0' }).expect(
        200,
      );
      const res = await t.http.get(`/generations/${jobId}`).set(owner.auth).expect(200);
      expect(res.body).toMatchObject({
        status: 'failed',
        result: { images: [], seed: null, model: 'sdxl-1.0', error: 'NSFW filter triggered' },
      });
    });

    it('applies exactly one of many concurrent deliveries, and stores that one', async () => {
      const jobId = await runningJob();
      const payloads = Array.from({ length: 8 }, (_, i) => ({ ...SUCCEEDED, seed: 1000 + i }));
      const answers = await Promise.all(payloads.map((p) => deliver(t, jobId, p).expect(200)));
      const applied = answers.map((a, i) => ({
        applied: (a.body as { applied: boolean }).applied,
        seed: payloads[i].seed,
      }));
      const winners = applied.filter((a) => a.applied);
      expect(winners).toHaveLength(1);
      expect(applied.filter((a) => !a.applied)).toHaveLength(payloads.length - 1);
      expect(await jobRow(t, jobId)).toMatchObject({
        status: 'succeeded',
        result: { seed: winners[0].seed },
      });
    });

    it('answers 404 for a job that does not exist', async () => {
      const before = await tableCounts(t);
      const res = await deliver(t, randomUUID(), SUCCEEDED).expect(404);
      expect(res.body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
      expect(await tableCounts(t)).toEqual(before);
    });

    const image = SUCCEEDED.images[0];
    it.each<BadInput>([
      bad('a job id that is not a UUID', SUCCEEDED, 'jobId', 'not-a-uuid'),
      bad('an unknown field', { ...SUCCEEDED, note: 'hi' }, 'note'),
      bad('an unknown status', { ...SUCCEEDED, status: 'done' }, 'status'),
      bad('no status', { images: SUCCEEDED.images }, 'status'),
      bad('succeeded without images', { status: 'succeeded' }, 'images'),
      bad('succeeded with no image', { status: 'succeeded', images: [] }, 'images'),
      bad('images that are not a list', { status: 'succeeded', images: image }, 'images'),
      bad('more than 16 images', { status: 'succeeded', images: Array(17).fill(image) }, 'images'),
      bad('failed without an error', { status: 'failed' }, 'error'),
      bad('an error over 500 characters', { status: 'failed', error: 'e'.repeat(501) }, 'error'),
      bad(
        'a storage key climbing out',
        { status: 'succeeded', images: [{ ...image, storageKey: 'a/../../etc/passwd' }] },
        'images[0].storageKey',
      ),
      bad(
        'an absolute storage key',
        { status: 'succeeded', images: [{ ...image, storageKey: '/etc/passwd' }] },
        'images[0].storageKey',
      ),
      bad(
        'a storage key with a URL in it',
        { status: 'succeeded', images: [{ ...image, storageKey: 'https://evil.test/x.png' }] },
        'images[0].storageKey',
      ),
      bad(
        'an image of width 0',
        { status: 'succeeded', images: [{ ...image, width: 0 }] },
        'images[0].width',
      ),
      bad(
        'an image with an unknown field',
        { status: 'succeeded', images: [{ ...image, url: 'https://evil.test/x.png' }] },
        'images[0].url',
      ),
      bad('a seed as a string', { ...SUCCEEDED, seed: '42' }, 'seed'),
      bad('a model with spaces', { ...SUCCEEDED, model: 'my model' }, 'model'),
      MALFORMED_JSON('{"status": "succeeded", '),
    ])('refuses $name with 400 and changes nothing', async ({ body, code, field, pathId: jobIdOverride }) => {
      const jobId = await runningJob();
      const before = await jobRow(t, jobId);
      const counts = await tableCounts(t);
      const res = await deliver(t, jobIdOverride ?? jobId, body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request', code });
      if (field !== null) {
        expectFieldNamed(res, field);
      }
      expect(await jobRow(t, jobId)).toEqual(before);
      expect(await tableCounts(t)).toEqual(counts);
    });
  });
});

describe('generations, with a generator that never answers', () => {
  const TIMEOUT_MS = 300;
  let t: TestApp;
  let fake: FakeGenerator;
  let owner: TestUser;

  beforeAll(async () => {
    fake = await FakeGenerator.start(SECRET, { maxHangMs: 5_000 });
    t = await bootTestApp(baseEnv(fake.url, String(TIMEOUT_MS)));
    owner = await createUser(t);
  }, BOOT_TIMEOUT_MS);

  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('gives up after GENERATOR_TIMEOUT_MS, answers 202 with the job failed, and hangs up', async () => {
    const character = await createCharacter(t, owner);
    fake.behaviour = 'hang';
    const started = performance.now();
    const res = await createGeneration(t, character.id, owner, { prompt: 'a slow sunrise' }).expect(202);
    const elapsed = performance.now() - started;

    // The fake would hold the request for 5 s: well under that means the service's own timeout fired.
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(3_000);
    expect(fake.received).toHaveLength(1);
    expect(fake.received[0].signatureValid).toBe(true);
    expect(res.body).toMatchObject({
      status: 'failed',
      result: { images: [], error: `generator did not answer within ${TIMEOUT_MS} ms` },
    });
    expect((await jobRow(t, res.body.id))?.status).toBe('failed');

    // The service closed the connection instead of leaving it open until the fake's bound.
    const deadline = Date.now() + 2_000;
    while (fake.abandoned === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(fake.abandoned).toBe(1);
  });
});

describe('generations, without a generator configured', () => {
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    // bootTestApp only adds variables; an earlier suite in this file set GENERATOR_URL.
    delete process.env.GENERATOR_URL;
    t = await bootTestApp({ GENERATOR_WEBHOOK_SECRET: SECRET, CDN_BASE_URL });
    owner = await createUser(t);
  }, BOOT_TIMEOUT_MS);

  afterAll(() => t?.close());

  it('leaves the job queued for a worker, which can still finish it through the webhook', async () => {
    const character = await createCharacter(t, owner);
    const res = await createGeneration(t, character.id, owner, { prompt: 'a quiet harbour' }).expect(202);
    expect(res.body).toMatchObject({ status: 'queued', result: null, parameters: {} });
    expect((await jobRow(t, res.body.id))?.status).toBe('queued');

    const read = await t.http.get(`/generations/${res.body.id}`).set(owner.auth).expect(200);
    expect(read.body).toEqual(res.body);

    await deliver(t, res.body.id, SUCCEEDED).expect(200);
    const done = await t.http.get(`/generations/${res.body.id}`).set(owner.auth).expect(200);
    expect(done.body.status).toBe('succeeded');
    expect(done.body.result.images[0].url).toBe(`${CDN_BASE_URL}/generations/knight/0.png`);
  });
});
