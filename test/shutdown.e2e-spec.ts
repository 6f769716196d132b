import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AddressInfo, connect, createServer } from 'node:net';
import { Agent, request as httpRequest } from 'node:http';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { eventually, sleep } from './cache/support';
import { freePort, OwnRedis } from './support/redis-server';
import { AppProcess, appEnv, built, untilAnswering } from './support/app-process';
import { bootTestApp, createSuiteDatabase } from './support/test-app';

const ROOT = resolve(__dirname, '..');
const DRAIN_MS = 4_000;
const PASSWORD = 'shutdown-suite-password-7f3a';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}


/** One HTTP GET/POST; rejects on a transport error (refused, reset), never on a status. */
function call(
  port: number,
  path: string,
  options: { agent?: Agent; headers?: Record<string, string>; body?: unknown; method?: string } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? (body ? 'POST' : 'GET'),
        agent: options.agent ?? false,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolvePromise({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('graceful shutdown of the built app (SIGTERM)', () => {
  jest.setTimeout(240_000);
  let redis: OwnRedis;
  let app: AppProcess;
  let port: number;
  let databaseUrl: string;
  // Owned by the test, released in afterAll even when an assertion failed half-way.
  let locker: Client | undefined;
  let stopLoad = false;
  const agents: Agent[] = [];

  beforeAll(async () => {
    await built();
    redis = await OwnRedis.start();
    databaseUrl = await createSuiteDatabase();
    port = await freePort();
    app = new AppProcess(appEnv(port, { DATABASE_URL: databaseUrl, REDIS_URL: redis.url, SHUTDOWN_DRAIN_MS: String(DRAIN_MS) }));
    await untilAnswering(app, port, '/health/ready');
  });
  afterAll(async () => {
    stopLoad = true;
    agents.forEach((agent) => agent.destroy());
    await locker?.end();
    if (app?.running) {
      app.signal('SIGKILL');
    }
    await redis?.stop();
  });

  it('boots and serves with only the packages the image ships', async () => {
    expect((await call(port, '/characters?limit=1')).status).toBe(200);
    expect(app.raw.filter((line) => line.includes('production-modules:'))).toEqual([]);
  });

  it('turns readiness 503 at once, serves through the drain, finishes in-flight requests, then closes Redis and PostgreSQL; exit 0', async () => {
    const register = await call(port, '/auth/register', {
      body: { username: 'shutdown_user', email: 'shutdown@example.com', password: PASSWORD },
    });
    expect(register.status).toBe(201);
    const token = (JSON.parse(register.body) as { accessToken: string }).accessToken;
    const auth = { Authorization: `Bearer ${token}` };
    const requestId = `shutdown-e2e-${randomBytes(4).toString('hex')}`;
    const traced = await call(port, '/characters?limit=1', { headers: { 'X-Request-Id': requestId } });
    expect(traced.headers['x-request-id']).toBe(requestId);
    // The same URL again is a replayed cache hit (answered before the middleware): still echoed and logged.
    const replayed = await call(port, '/characters?limit=1', { headers: { 'X-Request-Id': `${requestId}-again` } });
    expect(replayed.headers['x-request-id']).toBe(`${requestId}-again`);
    expect(replayed.headers['x-cache']).toBe('HIT-L1');
    expect(replayed.body).toBe(traced.body);

    // Traffic: keep-alive clients asking business routes until told to stop.
    const results: { startedAt: number; status?: number; error?: string }[] = [];
    const loop = async (agent: Agent, path: string, headers: Record<string, string> = {}) => {
      while (!stopLoad) {
        const entry: (typeof results)[number] = { startedAt: Date.now() };
        results.push(entry);
        try {
          entry.status = (await call(port, path, { agent, headers })).status;
        } catch (error) {
          entry.error = String(error);
        }
        await sleep(5);
      }
    };
    agents.push(...[1, 2, 3].map(() => new Agent({ keepAlive: true })));
    const loops = [
      loop(agents[0], '/characters?limit=5'),
      loop(agents[1], '/users/me', auth),
      loop(agents[2], '/characters/featured'),
    ];
    await sleep(300);

    const sigtermAt = Date.now();
    app.signal('SIGTERM');
    let readyDownAt = 0;
    await eventually(async () => {
      const ready = await call(port, '/health/ready');
      readyDownAt = Date.now();
      return ready.status === 503;
    }, 1_000);
    // Readiness went down while the server still serves: well inside the drain, not at its end.
    expect(readyDownAt - sigtermAt).toBeLessThan(DRAIN_MS / 2);
    expect((await call(port, '/health/live')).status).toBe(200);

    // An in-flight request across the close: a list query that waits on a lock the test holds.
    await sleep(800);
    locker = new Client({ connectionString: databaseUrl });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE characters IN ACCESS EXCLUSIVE MODE');
    const marker = `inflight${randomBytes(4).toString('hex')}`;
    let slowSettled = false;
    const slow = call(port, `/characters?limit=3&q=${marker}`).finally(() => (slowSettled = true));

    // Load balancers have stopped sending by the end of the drain; so do we.
    await sleep(Math.max(0, sigtermAt + DRAIN_MS - 500 - Date.now()));
    stopLoad = true;
    await eventually(() => app.index(/^HTTP server closing/) >= 0, DRAIN_MS + 2_000);

    // HTTP is closing but waits for the in-flight request; Redis and PostgreSQL are still open. A new connection
    // is refused, or — when it reached the backlog just before the listener closed — reset with the idle ones.
    expect(
      await call(port, '/health/live').then(
        () => 'answered',
        (error: NodeJS.ErrnoException) => error.code,
      ),
    ).toMatch(/^(ECONNREFUSED|ECONNRESET)$/);
    await sleep(300);
    expect(slowSettled).toBe(false);
    expect(app.running).toBe(true);
    expect(app.index(/^HTTP server closed/)).toBe(-1);
    const observer = redis.client();
    try {
      expect(await observer.client('LIST')).toMatch(/name=cache-commands/);
    } finally {
      observer.disconnect();
    }
    const { rows } = await locker.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    expect(rows[0].n).toBeGreaterThan(0);

    await locker.query('COMMIT');
    await locker.end();
    locker = undefined;
    const slowAnswer = await slow;
    expect(slowAnswer.status).toBe(200);

    expect(await app.exited).toEqual({ code: 0, signal: null });
    await Promise.all(loops);

    // No request failed; business routes kept answering while readiness said 503.
    expect(results.length).toBeGreaterThan(20);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.filter((r) => r.startedAt > readyDownAt && r.status === 200).length).toBeGreaterThan(5);

    // The order, from the logs.
    const order = [
      app.index(/^Shutdown \(SIGTERM\): readiness answers 503/),
      app.index(/^Timeout reached, shutting down now/),
      app.index(/^HTTP server closing/),
      app.lines.findIndex((line) => line.msg === 'request completed' && line.req?.url?.includes(marker)),
      app.index(/^HTTP server closed/),
      Math.min(
        app.index(/^Redis connection closed \(commands\)/),
        app.index(/^Redis connection closed \(bus\)/),
      ),
      app.index(/^PostgreSQL connections closed/),
      app.index(/^Exiting with code 0/),
    ];
    // It exited because nothing was left open, not because the grace period after the hooks ran out.
    expect(app.index(/^Exiting \d+ ms after the shutdown hooks/)).toBe(-1);
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(app.index(/^Redis connection closed \(bus\)/)).toBeGreaterThan(app.index(/^HTTP server closed/));

    // Structured logs with the request id; nothing secret in any line.
    const completed = (id: string) => app.lines.find((line) => line.reqId === id && line.msg === 'request completed');
    expect(completed(requestId)).toBeDefined();
    // A replayed request's line has the very shape of pino-http's.
    const [original, again] = [completed(requestId)!, completed(`${requestId}-again`)];
    expect(again).toMatchObject({ level: 'info', req: { method: 'GET', url: '/characters?limit=1' }, res: { statusCode: 200 } });
    expect(Object.keys(again!).sort()).toEqual(Object.keys(original).sort());
    expect(Object.keys(again!.req as object).sort()).toEqual(Object.keys(original.req as object).sort());
    const everything = app.raw.join('\n');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.split('.')[2]);
    expect(app.raw.filter((line) => line.startsWith('stderr:'))).toEqual([]);
  });
});

describe('shutdown with a client that stalled mid-request', () => {
  jest.setTimeout(60_000);

  it('cuts its connection SHUTDOWN_CLOSE_MS after HTTP starts closing, so the close finishes', async () => {
    const t = await bootTestApp({ SHUTDOWN_DRAIN_MS: '0', SHUTDOWN_CLOSE_MS: '300' });
    await t.app.listen(0, '127.0.0.1');
    const port = (t.app.getHttpServer().address() as AddressInfo).port;
    // Headers and half a body, then nothing: a phone on a bad network, or a slowloris.
    const socket = connect(port, '127.0.0.1');
    const cut = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"username":');
    await sleep(300);
    try {
      // Unbounded, the close waits for the rest of that body for ever; the test gives it 20 s.
      const closed = t.close().then(() => 'closed');
      expect(await Promise.race([closed, sleep(20_000).then(() => 'still closing after 20 s')])).toBe('closed');
      await cut;
    } finally {
      socket.destroy();
    }
  });
});

describe('boot of the built app', () => {
  jest.setTimeout(240_000);
  beforeAll(() => built());

  it('logs JSON lines as it boots, while the database does not answer: no silence, no coloured text', async () => {
    // Nothing listens there: TypeORM retries every 3 s, nine times. Until now Nest held every line of the boot
    // until the app was created (bufferLogs), so all that time the process said nothing at all.
    const nobody = await freePort();
    const app = new AppProcess(appEnv(await freePort(), { DATABASE_URL: `postgres://postgres@127.0.0.1:${nobody}/nothing` }));
    try {
      await eventually(
        () => app.lines.some((l) => l.context === 'TypeOrmModule' && /Unable to connect to the database/.test(l.msg ?? '')),
        10_000,
      );
      expect(app.running).toBe(true);
      expect(app.lines[0]).toMatchObject({ level: 'info', context: 'NestFactory', msg: 'Starting Nest application...' });
      expect(app.notJson).toEqual([]);
      expect(app.raw.filter((line) => line.startsWith('stderr:'))).toEqual([]);
    } finally {
      app.signal('SIGKILL');
      await app.exited;
    }
  });

  it('refuses a bad configuration in one JSON line naming every variable (no stack, no secret), and exits 1', async () => {
    const app = new AppProcess(
      appEnv(await freePort(), { JWT_EXPIRES_IN: 'soon', REDIS_URL: `redis://:${PASSWORD}/x@127.0.0.1:6379`, METRICS_PORT: 'x' }),
    );
    expect(await app.exited).toEqual({ code: 1, signal: null });
    expect(app.notJson).toEqual([]);
    expect(app.raw.filter((line) => line.startsWith('stderr:'))).toEqual([]);
    expect(app.lines).toHaveLength(1);
    const [line] = app.lines;
    expect(line).toMatchObject({ level: 'fatal', context: 'Bootstrap' });
    expect((line.problems as string[]).map((p) => p.split(':')[0])).toEqual(['JWT_EXPIRES_IN', 'REDIS_URL', 'METRICS_PORT']);
    expect(JSON.stringify(line)).not.toMatch(/stack|\s+at /);
    expect(app.raw.join('\n')).not.toContain(PASSWORD);
  });

  it('reports a port already taken once, as JSON, and exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const app = new AppProcess(appEnv((taken.address() as AddressInfo).port, { DATABASE_URL: await createSuiteDatabase() }));
    try {
      expect(await app.exited).toEqual({ code: 1, signal: null });
    } finally {
      taken.close();
    }
    expect(app.notJson).toEqual([]);
    expect(app.raw.filter((line) => line.startsWith('stderr:'))).toEqual([]);
    const failures = app.lines.filter((l) => l.level === 'error' || l.level === 'fatal');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 'error', context: 'NestApplication' });
    expect(failures[0].msg).toMatch(/EADDRINUSE/);
  });
});

describe('closing a Redis client', () => {
  jest.setTimeout(240_000);
  let redis: OwnRedis;
  beforeAll(async () => {
    await built();
    redis = await OwnRedis.start();
  });
  afterAll(() => redis?.stop());

  it('twice (Nest ran the rate limiter’s hook twice) leaves no timer behind: the process can exit at once', async () => {
    // ioredis arms `disconnectTimeout` on every disconnect(), and only the socket's `close` clears it: on a client
    // already closed it kept the process alive for its length (2 s by default; 60 s here, to tell the difference).
    const script = `
      const Redis = require('ioredis');
      const { closeRedisClient } = require('./dist/cache/redis/redis-clients.js');
      const client = new Redis(${JSON.stringify(redis.url)}, { disconnectTimeout: 60000 });
      client.once('ready', async () => {
        await client.get('anything');
        await closeRedisClient(client);
        await closeRedisClient(client);
        process.stdout.write('closed\\n');
      });`;
    const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolvePromise) => child.once('exit', (code) => resolvePromise(code)));
    try {
      const result = await Promise.race([exited, sleep(20_000).then(() => 'still running 20 s later')]);
      expect(out).toBe('closed\n');
      expect(result).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
