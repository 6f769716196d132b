import { DataSource } from 'typeorm';
import { CacheService, cacheKey } from '../src/cache';
import { SLACK_MS, eventually, sleep } from './support/timing';
import { OwnPostgres } from './support/pg-cluster';
import { AppProcess, appEnv, built, untilAnswering } from './support/app-process';
import { freePort, OwnRedis } from './support/redis-server';
import { bootTestApp, createSuiteDatabase, TestApp } from './support/test-app';

/**
 * Every dependency check is bounded by its own timeout (HEALTH_DB_TIMEOUT_MS, below): a probe must answer within that
 * plus slack, never wait for a frozen dependency. (Kubernetes gives it 1 s; on a quiet machine it takes milliseconds.)
 */
const PROBE_BOUND_MS = 500 + SLACK_MS;

/** Environment every suite here sets explicitly (bootTestApp's overrides stay in process.env between suites). */
const BASE_ENV = { HEALTH_SAMPLE_INTERVAL_MS: '200', HEALTH_DB_TIMEOUT_MS: '500', CACHE_REQUIRED: 'false' };

async function timed(t: TestApp, path: string) {
  const started = performance.now();
  const res = await t.http.get(path);
  return { res, ms: performance.now() - started };
}

describe('health with PostgreSQL and Redis up', () => {
  jest.setTimeout(60_000);
  let redis: OwnRedis;
  let t: TestApp;

  beforeAll(async () => {
    redis = await OwnRedis.start(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    t = await bootTestApp({ ...BASE_ENV, REDIS_URL: redis.url });
    await eventually(
      async () => (await t.http.get('/health')).body.details?.cache?.redis?.usedMemoryBytes > 0,
      5_000,
    );
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('live: 200, checks nothing external, never cached', async () => {
    const res = await t.http.get('/health/live').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', details: { process: { status: 'up' } } });
    expect(Object.keys(res.body.details)).toEqual(['process']);
    expect(res.headers['cache-control']).toMatch(/no-store/);
  });

  it('ready: 200 with the database and Redis (ping latency) reported', async () => {
    // Samples come every 200 ms with a 250 ms PING timeout: on a loaded machine one of them can time out, which
    // is a true "down" for that moment. What is checked here is the answer while Redis answers.
    let res = await t.http.get('/health/ready');
    await eventually(async () => {
      res = await t.http.get('/health/ready');
      return res.body.details?.cache?.redis === 'up';
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.details.database).toMatchObject({ status: 'up', latencyMs: expect.any(Number) });
    expect(res.body.details.cache).toMatchObject({ status: 'up', state: 'ok', redis: 'up', required: false });
    expect(res.body.details.cache.pingMs).toBeGreaterThanOrEqual(0);
    expect(res.headers['cache-control']).toMatch(/no-store/);
  });

  it('details: Redis memory and evictions from INFO, bus, breaker, L1 and the hit ratio of this run', async () => {
    const cache = t.app.get(CacheService);
    let loads = 0;
    const loader = async () => ({ n: ++loads });
    const before = (await t.http.get('/health').expect(200)).body.details.cache.hitRatio;
    // One miss, then two L1 hits: the ratio moves by exactly these three gets.
    await cache.getOrSet(cacheKey('healthtest', 'secret-looking-key-part'), loader, { ttl: '1m' });
    await cache.getOrSet(cacheKey('healthtest', 'secret-looking-key-part'), loader, { ttl: '1m' });
    await cache.getOrSet(cacheKey('healthtest', 'secret-looking-key-part'), loader, { ttl: '1m' });
    expect(loads).toBe(1);

    const res = await t.http.get('/health').expect(200);
    const details = res.body.details;
    expect(details.database.status).toBe('up');
    expect(details.cache).toMatchObject({
      status: 'up',
      state: 'ok',
      required: false,
      redis: {
        state: 'up',
        pingMs: expect.any(Number),
        maxMemoryBytes: 64 * 1024 * 1024,
        maxMemoryPolicy: 'allkeys-lru',
        evictedKeys: 0,
      },
      bus: { connected: true },
      breaker: 'closed',
      pendingInvalidations: 0,
    });
    expect(details.cache.redis.usedMemoryBytes).toBeGreaterThan(0);
    expect(details.cache.redis.memoryUsedRatio).toBeCloseTo(
      details.cache.redis.usedMemoryBytes / (64 * 1024 * 1024),
      3,
    );
    expect(details.cache.l1.entries).toBeGreaterThanOrEqual(1);
    expect(details.cache.l1.bytes).toBeGreaterThan(0);
    expect(details.cache.hitRatio.hits - before.hits).toBe(2);
    expect(details.cache.hitRatio.misses - before.misses).toBe(1);
    expect(details.cache.hitRatio.ratio).toBeGreaterThan(0);
    // No connection strings, no keys.
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('redis://');
    expect(text).not.toContain('secret-looking-key-part');
    expect(text).not.toContain(String(redis.port));
  });

  it('a killed Redis: live 200, ready 200 (reported down), details show Redis down and the cache degraded', async () => {
    await redis.kill();
    await eventually(
      async () => (await t.http.get('/health/ready')).body.details?.cache?.redis === 'down',
      2_000,
    );
    const ready = await timed(t, '/health/ready');
    expect(ready.res.status).toBe(200);
    expect(ready.res.body.details.cache).toMatchObject({
      status: 'up',
      redis: 'down',
      state: 'degraded',
      required: false,
    });
    expect(ready.ms).toBeLessThan(PROBE_BOUND_MS);
    await t.http.get('/health/live').expect(200);
    const details = await t.http.get('/health').expect(200);
    expect(details.body.details.cache).toMatchObject({
      state: 'degraded',
      redis: { state: 'down' },
      bus: { connected: false },
    });

    await redis.spawn();
    await eventually(async () => {
      const res = await t.http.get('/health');
      return res.body.details?.cache?.state === 'ok' && res.body.details.cache.redis.state === 'up';
    }, 15_000);
  });

  it('a frozen Redis: every probe still answers without waiting for it, and details show Redis down', async () => {
    redis.freeze();
    try {
      await eventually(
        async () => (await t.http.get('/health')).body.details?.cache?.redis?.state === 'down',
        3_000,
      );
      for (const path of ['/health/live', '/health/ready', '/health']) {
        const { res, ms } = await timed(t, path);
        expect(res.status).toBe(200);
        expect(ms).toBeLessThan(PROBE_BOUND_MS);
      }
      expect((await t.http.get('/health')).body.details.cache.redis.problem).toBe('timeout');
    } finally {
      redis.thaw();
    }
    await eventually(
      async () => (await t.http.get('/health')).body.details?.cache?.redis?.state === 'up',
      15_000,
    );
  });
});

describe('health with CACHE_REQUIRED=true', () => {
  jest.setTimeout(60_000);
  let redis: OwnRedis;
  let t: TestApp;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await bootTestApp({ ...BASE_ENV, REDIS_URL: redis.url, CACHE_REQUIRED: 'true' });
    await eventually(async () => (await t.http.get('/health/ready')).status === 200, 5_000);
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('Redis down gates readiness (503 naming the cache); liveness stays 200; back to 200 when Redis is', async () => {
    await redis.kill();
    await eventually(async () => (await t.http.get('/health/ready')).status === 503, 2_000);
    const res = await t.http.get('/health/ready').expect(503);
    expect(res.body).toMatchObject({
      status: 'error',
      error: { cache: { status: 'down', redis: 'down', required: true } },
    });
    expect(res.body.details.database.status).toBe('up');
    await t.http.get('/health/live').expect(200);

    await redis.spawn();
    await eventually(async () => (await t.http.get('/health/ready')).status === 200, 15_000);
  });
});

describe('health with a PostgreSQL of the suite own', () => {
  jest.setTimeout(120_000);
  let pg: OwnPostgres;
  let t: TestApp;

  beforeAll(async () => {
    pg = await OwnPostgres.start();
    // No Redis: this suite is about the database. DB_MIGRATE builds the schema on the fresh cluster.
    delete process.env.REDIS_URL;
    t = await bootTestApp({ ...BASE_ENV, DATABASE_URL: pg.url(), DB_MIGRATE: 'true' });
  });
  afterAll(async () => {
    await t?.close();
    await pg?.destroy();
  });

  it('ready while it runs', async () => {
    const res = await t.http.get('/health/ready').expect(200);
    expect(res.body.details.database.status).toBe('up');
    expect(res.body.details.cache).toMatchObject({ status: 'up', state: 'l1-only', redis: 'not_configured' });
  });

  it('a pool held by slow queries is busy, not down: ready stays 200 on a connection of its own', async () => {
    const dataSource = t.app.get(DataSource);
    const poolSize = (dataSource.options as { poolSize: number }).poolSize;
    // Every pooled connection busy for 2 s, as under a traffic peak.
    const held = Array.from({ length: poolSize }, () => dataSource.query('SELECT pg_sleep(2)'));
    try {
      await sleep(200);
      const ready = await timed(t, '/health/ready');
      expect(ready.res.status).toBe(200);
      expect(ready.res.body.details.database.status).toBe('up');
    } finally {
      await Promise.all(held);
    }
  });

  it('a probe connection the server ends while idle is replaced before the next check, not failed on', async () => {
    await t.http.get('/health/ready').expect(200);
    const dataSource = t.app.get(DataSource);
    const ended: unknown[] = await dataSource.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'health-probe'`,
    );
    expect(ended).toHaveLength(1);
    await sleep(100);
    // The very next check answers 200: no retries.
    const ready = await t.http.get('/health/ready');
    expect(ready.body.details?.database ?? ready.body.error?.database).toMatchObject({ status: 'up' });
    expect(ready.status).toBe(200);
  });

  it('stopped (pg_ctl stop): ready turns 503, live stays 200; ready again after a restart', async () => {
    await pg.stopServer();
    await eventually(async () => (await t.http.get('/health/ready')).status === 503, 2_000);
    const res = await t.http.get('/health/ready').expect(503);
    expect(res.body).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    expect(JSON.stringify(res.body)).not.toContain(String(pg.port));
    await t.http.get('/health/live').expect(200);
    // Requests that need the database fail meanwhile; the process itself is fine.
    await t.http.get('/health/live').expect(200);

    await pg.startServer();
    await eventually(async () => (await t.http.get('/health/ready')).status === 200, 10_000);
    await t.http.get('/characters').expect(200);
  });

  it('frozen (SIGSTOP): ready answers 503 within its check timeout, live never waits; ready again when it thaws', async () => {
    await t.http.get('/health/ready').expect(200);
    await pg.freeze();
    try {
      for (let i = 0; i < 3; i++) {
        const ready = await timed(t, '/health/ready');
        expect(ready.res.status).toBe(503);
        expect(ready.res.body.error.database.message).toMatch(/no answer within 500 ms/);
        expect(ready.ms).toBeLessThan(PROBE_BOUND_MS);
        const live = await timed(t, '/health/live');
        expect(live.res.status).toBe(200);
        // Live checks nothing external: it never waits for the frozen database.
        expect(live.ms).toBeLessThan(SLACK_MS);
      }
    } finally {
      await pg.thaw();
    }
    await eventually(async () => (await t.http.get('/health/ready')).status === 200, 10_000);
    await sleep(10);
  });
});

describe('health logs of the built app', () => {
  jest.setTimeout(120_000);
  beforeAll(() => built());

  it('logs a check going down once and its recovery once, not every failed probe', async () => {
    const redis = await OwnRedis.start();
    const port = await freePort();
    const app = new AppProcess(
      appEnv(port, { ...BASE_ENV, DATABASE_URL: await createSuiteDatabase(), REDIS_URL: redis.url, CACHE_REQUIRED: 'true' }),
    );
    const ready = async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status;
    const health = () => app.lines.filter((l) => l.context === 'HealthCheck' || /Health Check/.test(l.msg ?? ''));
    try {
      await untilAnswering(app, port, '/health/ready');
      await redis.kill();
      await eventually(async () => (await ready()) === 503, 5_000);
      for (let i = 0; i < 10; i++) {
        expect(await ready()).toBe(503);
      }
      expect(health()).toEqual([expect.objectContaining({ level: 'warn', msg: 'cache is down', check: 'cache', redis: 'down' })]);

      await redis.spawn();
      await eventually(async () => (await ready()) === 200, 15_000);
      await ready();
      expect(health().map((l) => [l.level, l.msg])).toEqual([
        ['warn', 'cache is down'],
        ['info', 'cache is up again'],
      ]);
      expect(health()[1].downForMs).toBeGreaterThan(0);
    } finally {
      app.signal('SIGKILL');
      await app.exited;
      await redis.stop();
    }
  });
});
