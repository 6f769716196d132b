import { randomUUID } from 'node:crypto';
import type { Logger as PinoInstance } from 'pino';
import { Gauge } from 'prom-client';
import request from 'supertest';
import { CacheService, cacheKey } from '../src/cache';
import { CHARACTER_CACHE } from '../src/characters/character-cache';
import { ResponseReplay } from '../src/http-cache/response-replay';
import { ROOT_LOGGER } from '../src/logging/logging.module';
import { MetricsEndpoint } from '../src/metrics/metrics.endpoint';
import { MetricsRegistry } from '../src/metrics/metrics.registry';
import { eventually, sleep } from './cache/support';
import { parseRawAnswer, rawExchange } from './support/raw-http';
import { OwnRedis } from './support/redis-server';
import { bootTestApp, TestApp } from './support/test-app';

const TOKEN = 'metrics-token-for-the-e2e-suite';
const NS = 'metricstest';

/** Prometheus text → value of every sample line, keyed by `name{labels}` exactly as exposed. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line && !line.startsWith('#')) {
      const at = line.lastIndexOf(' ');
      out.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
  }
  return out;
}

const delta = (before: Map<string, number>, after: Map<string, number>, key: string) =>
  (after.get(key) ?? 0) - (before.get(key) ?? 0);

/** Labels in the order the registry writes them (the order of `labelNames`). */
const series = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

/** Every answer a request refused before any route gets, as exposed series: the whole label set of http_requests_refused_total. */
const REFUSED = {
  badUrl: series('http_requests_refused_total', { status: '400', code: 'BAD_URL' }),
  uriTooLong: series('http_requests_refused_total', { status: '414', code: 'URI_TOO_LONG' }),
  badRequest: series('http_requests_refused_total', { status: '400', code: 'BAD_REQUEST' }),
  timeout: series('http_requests_refused_total', { status: '408', code: 'REQUEST_TIMEOUT' }),
  headersTooLarge: series('http_requests_refused_total', { status: '431', code: 'HEADERS_TOO_LARGE' }),
};

/** The http_requests_refused_total samples of a scrape, by series. */
const refusedSamples = (scraped: Map<string, number>) =>
  new Map([...scraped].filter(([key]) => key.startsWith('http_requests_refused_total')));

/** A request whose headers are over Node's 16 KB limit: a 431 before any route. */
const TOO_LARGE = `GET /characters HTTP/1.1\r\nHost: x\r\nX-Pad: ${'x'.repeat(20_000)}\r\n\r\n`;

describe('metrics', () => {
  jest.setTimeout(60_000);
  let redis: OwnRedis;
  let t: TestApp;
  let cache: CacheService;

  const scrape = async () => {
    const res = await t.http.get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    return samples(res.text);
  };

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await bootTestApp({
      REDIS_URL: redis.url,
      METRICS_TOKEN: TOKEN,
      HEALTH_SAMPLE_INTERVAL_MS: '200',
      CACHE_REQUIRED: 'false',
    });
    delete process.env.METRICS_PORT;
    cache = t.app.get(CacheService);
    await eventually(() => cache.status().busConnected, 5_000);
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('is protected by the bearer token (the JWT guard does not get in the way)', async () => {
    const none = await t.http.get('/metrics').expect(401);
    expect(none.body).toMatchObject({ statusCode: 401, code: 'METRICS_TOKEN_REQUIRED' });
    expect(none.headers['www-authenticate']).toBe('Bearer');
    await t.http.get('/metrics').set('Authorization', 'Bearer wrong-token-of-some-length').expect(401);
    await t.http.get('/metrics').set('Authorization', TOKEN).expect(401);
    const ok = await t.http.get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(ok.text).toContain('process_cpu_user_seconds_total');
    expect(ok.text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('a scripted sequence of hits and misses gives exactly those counter deltas', async () => {
    const before = await scrape();
    let loads = 0;
    const loader = (value: string) => async () => {
      loads++;
      return { value };
    };
    const a = cacheKey(NS, 'a');
    await cache.getOrSet(a, loader('a'), { ttl: '1m' }); // miss + load
    await cache.getOrSet(a, loader('a'), { ttl: '1m' }); // L1 hit
    await cache.getOrSet(a, loader('a'), { ttl: '1m' }); // L1 hit
    await cache.getOrSet(a, loader('a'), { ttl: '1m', l1: false }); // L2 hit
    await cache.getOrSet(cacheKey(NS, 'b'), loader('b'), { ttl: '1m' }); // miss + load
    await expect(
      cache.getOrSet(cacheKey(NS, 'c'), () => Promise.reject(new Error('database down')), { ttl: '1m' }),
    ).rejects.toThrow('database down'); // miss + failed load
    // Past its TTL, inside its grace: served stale while one refresh runs.
    const d = cacheKey(NS, 'd');
    await cache.getOrSet(d, loader('d1'), { ttl: 30, jitter: 0, grace: '1m' }); // miss + load
    await sleep(60);
    let refreshed!: () => void;
    const refreshDone = new Promise<void>((resolve) => (refreshed = resolve));
    const stale = await cache.getOrSet(
      d,
      async () => {
        loads++;
        setImmediate(refreshed);
        return { value: 'd2' };
      },
      { ttl: 30, jitter: 0, grace: '1m' },
    );
    expect(stale).toEqual({ value: 'd1' });
    await refreshDone;
    await sleep(20);
    await cache.delete([a]); // one eviction
    expect(loads).toBe(4);
    // Tags reach entries of any namespace: counted by the word before their first colon, never by id.
    await cache.invalidateTags(['mtag:1', 'mtag:2', 'no-group']);
    // A namespace clear is an eviction of the namespace (its tag is an implementation detail).
    await cache.clearNamespace(`${NS}-cleared`);

    const after = await scrape();
    const gets = (tier: string, result: string) =>
      delta(before, after, series('cache_gets_total', { namespace: NS, tier, result }));
    expect(gets('none', 'miss')).toBe(4);
    expect(gets('l1', 'hit')).toBe(2);
    expect(gets('l2', 'hit')).toBe(1);
    // The tier of a stale serve depends on whether the refresh already replaced the L1 entry: count both.
    expect(gets('l1', 'stale') + gets('l2', 'stale')).toBe(1);
    expect(delta(before, after, series('cache_stale_served_total', { namespace: NS }))).toBe(1);
    expect(delta(before, after, series('cache_loads_total', { namespace: NS, result: 'ok' }))).toBe(4);
    expect(delta(before, after, series('cache_loads_total', { namespace: NS, result: 'error' }))).toBe(1);
    expect(delta(before, after, series('cache_load_duration_seconds_count', { namespace: NS }))).toBe(5);
    expect(delta(before, after, series('cache_evictions_total', { namespace: NS }))).toBe(1);
    expect(delta(before, after, series('cache_tag_invalidations_total', { group: 'mtag' }))).toBe(2);
    expect(delta(before, after, series('cache_tag_invalidations_total', { group: 'other' }))).toBe(1);
    expect(delta(before, after, series('cache_tag_invalidations_total', { group: 'ns' }))).toBe(0);
    expect(delta(before, after, series('cache_evictions_total', { namespace: `${NS}-cleared` }))).toBe(1);
    expect(delta(before, after, 'cache_redis_command_duration_seconds_count')).toBeGreaterThan(0);
    expect(after.get('cache_redis_up')).toBe(1);
    expect(after.get('cache_breaker_state')).toBe(0);
    expect(after.get('cache_bus_connected')).toBe(1);
    expect(after.get('cache_l1_bytes')).toBeGreaterThan(0);
  });

  it('states: Redis memory from the sampler; Redis up / errors / bus reconnects / redone invalidations follow an outage', async () => {
    await eventually(async () => ((await scrape()).get('redis_memory_used_bytes') ?? 0) > 0, 3_000);
    // Made again once Redis is back (it may have lost it): see "Redis loses its last writes" in src/cache/README.md.
    await cache.delete([cacheKey(NS, `before-outage-${randomUUID()}`)]);
    const before = await scrape();
    expect(before.get('cache_redis_ping_seconds')).toBeGreaterThan(0);
    expect(before.has('redis_evicted_keys_total')).toBe(true);

    await redis.kill();
    await eventually(async () => (await scrape()).get('cache_redis_up') === 0, 2_000);
    await cache.getOrSet(cacheKey(NS, `while-down-${randomUUID()}`), async () => 1, { ttl: '1m' });
    const down = await scrape();
    const errorSum = (m: Map<string, number>) =>
      ['timeout', 'connection', 'command', 'skipped'].reduce(
        (sum, kind) => sum + (m.get(series('cache_errors_total', { kind })) ?? 0),
        0,
      );
    expect(errorSum(down) - errorSum(before)).toBeGreaterThan(0);

    await redis.spawn();
    await eventually(
      async () =>
        (await scrape()).get('cache_bus_reconnects_total') ===
        (before.get('cache_bus_reconnects_total') ?? 0) + 1,
      15_000,
    );
    await eventually(async () => (await scrape()).get('cache_redis_up') === 1, 15_000);
    const redone = (m: Map<string, number>) => m.get('cache_invalidations_redone_total') ?? 0;
    await eventually(async () => redone(await scrape()) - redone(before) >= 1, 2_000);
  });

  it('http_request_duration_seconds: route template, status, cache outcome; errors and unmatched routes too', async () => {
    const before = await scrape();
    const id = randomUUID();
    await t.http.get(`/characters/${id}`).expect(404);
    await t.http.get('/health/live').expect(200);
    await t.http.get(`/no-such-route/${id}`).expect(404);
    await t.http.get('/users/me').expect(401); // refused by the guard, before any handler
    const list = await t.http.get('/characters?limit=2').expect(200);
    const after = await scrape();
    const count = (labels: Record<string, string>) =>
      delta(before, after, series('http_request_duration_seconds_count', labels));

    expect(count({ method: 'GET', route: '/characters/:id', status: '404', cache: 'none' })).toBe(1);
    expect(count({ method: 'GET', route: '/health/live', status: '200', cache: 'none' })).toBe(1);
    expect(count({ method: 'GET', route: 'unmatched', status: '404', cache: 'none' })).toBe(1);
    expect(count({ method: 'GET', route: '/users/me', status: '401', cache: 'none' })).toBe(1);
    // Whatever the HTTP cache layer answered (X-Cache: HIT-L1 | HIT-L2 | MISS | STALE, or none), the label says it.
    const outcome =
      { 'HIT-L1': 'hit-l1', 'HIT-L2': 'hit-l2', MISS: 'miss', STALE: 'stale' }[
        String(list.headers['x-cache'])
      ] ?? 'none';
    expect(count({ method: 'GET', route: '/characters', status: '200', cache: outcome })).toBe(1);
    const text = [...after.keys()].join('\n');
    expect(text).not.toContain(id);
  });

  it('counts replayed cache hits (answered before Fastify) like any other answer, and http_replays_total says which were replayed', async () => {
    const path = `/characters?limit=3&tag=metrics-${randomUUID().slice(0, 8)}`;
    const first = await t.http.get(path).expect(200);
    const replay = t.app.get(ResponseReplay);
    const before = await scrape();
    const replayed = replay.counts.replayed;
    await t.http.get(path).expect(200);
    await t.http.get(path).set('If-None-Match', String(first.headers.etag)).expect(304);
    const after = await scrape();
    expect(replay.counts.replayed - replayed).toBe(2);
    const count = (labels: Record<string, string>) =>
      delta(before, after, series('http_request_duration_seconds_count', labels));
    expect(count({ method: 'GET', route: '/characters', status: '200', cache: 'hit-l1' })).toBe(1);
    expect(count({ method: 'GET', route: '/characters', status: '304', cache: 'hit-l1' })).toBe(1);
    expect(delta(before, after, series('http_replays_total', { result: 'replayed' }))).toBe(2);
    expect(delta(before, after, series('http_replays_total', { result: 'passed' }))).toBe(0);

    // The entries behind the answer are gone: the next request for the URL is handed on to Nest, and counted so.
    await cache.clearNamespace(CHARACTER_CACHE.list);
    const reloaded = await t.http.get(path).expect(200);
    expect(reloaded.headers['x-cache']).toBe('MISS');
    const later = await scrape();
    expect(delta(after, later, series('http_replays_total', { result: 'replayed' }))).toBe(0);
    expect(delta(after, later, series('http_replays_total', { result: 'passed' }))).toBe(1);
  });

  it('http_requests_refused_total counts requests Node refused (431, 400) by status and code, each once; a normal request moves it not', async () => {
    const before = await scrape();
    // Every series is there from the first scrape (an increase() sees the first refusal), and no other.
    expect(refusedSamples(before)).toEqual(
      new Map([
        [REFUSED.badUrl, expect.any(Number)],
        [REFUSED.uriTooLong, expect.any(Number)],
        [REFUSED.badRequest, expect.any(Number)],
        [REFUSED.timeout, expect.any(Number)],
        [REFUSED.headersTooLarge, expect.any(Number)],
      ]),
    );
    await t.http.get('/health/live').expect(200);
    const normal = await scrape();
    expect(refusedSamples(normal)).toEqual(refusedSamples(before));

    expect(parseRawAnswer(await rawExchange(t, TOO_LARGE)).status).toBe(431);
    expect(parseRawAnswer(await rawExchange(t, 'GARBAGE\r\n\r\n')).status).toBe(400);
    // Refused by Fastify's router rather than Node's parser: counted alike.
    await t.http.get('/characters/%zz').expect(400);
    await t.http.get(`/characters/${'x'.repeat(101)}`).expect(414);
    const after = await scrape();
    expect(delta(normal, after, REFUSED.headersTooLarge)).toBe(1);
    expect(delta(normal, after, REFUSED.badRequest)).toBe(1);
    expect(delta(normal, after, REFUSED.badUrl)).toBe(1);
    expect(delta(normal, after, REFUSED.uriTooLong)).toBe(1);
    expect(delta(normal, after, REFUSED.timeout)).toBe(0);
    expect([...refusedSamples(after).keys()]).toEqual([...refusedSamples(before).keys()]);
    // Not requests to the routes' histogram: they never had a route, a method or a duration.
    const requests = (m: Map<string, number>) =>
      [...m].filter(
        ([key]) => key.startsWith('http_request_duration_seconds_count') && !key.includes('route="/metrics"'),
      );
    expect(requests(after)).toEqual(requests(normal));
  });

  it('the number of series stays constant over a run with many distinct ids', async () => {
    const ids = Array.from({ length: 150 }, () => randomUUID());
    const run = async (batch: string[]) => {
      for (const id of batch) {
        await t.http.get(`/characters/${id}`).expect(404);
        await t.http.get(`/nothing-here/${id}`).expect(404);
        await cache.getOrSet(cacheKey(NS, 'item', id), async () => ({ id }), { ttl: '1m' });
        await cache.getOrSet(cacheKey(NS, 'item', id), async () => ({ id }), { ttl: '1m' });
        await cache.invalidateTags([`item:${id}`]);
      }
    };
    const appSeries = async () => {
      const res = await t.http.get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      return res.text.split('\n').filter((line) => /^(http_|cache_|redis_)/.test(line));
    };
    await run(ids.slice(0, 2)); // every label combination of this run exists from here on
    const warm = await appSeries();
    await run(ids.slice(2));
    const after = await appSeries();
    expect(after.length).toBe(warm.length);
    const text = after.join('\n');
    expect(ids.some((id) => text.includes(id))).toBe(false);
  });
});

describe('metrics on a port of their own', () => {
  jest.setTimeout(30_000);
  let t: TestApp;

  beforeAll(async () => {
    delete process.env.REDIS_URL;
    delete process.env.METRICS_TOKEN;
    // Requests are not logged here, and one not received within a second is a 408: refusals are counted all the same.
    t = await bootTestApp({
      METRICS_PORT: '0',
      HOST: '127.0.0.1',
      LOG_REQUESTS: 'false',
      REQUEST_TIMEOUT_MS: '1000',
    });
  });
  afterAll(async () => {
    await t.close();
    delete process.env.METRICS_PORT;
  });

  it('serves /metrics there only (no token configured), and nothing else', async () => {
    const port = t.app.get(MetricsEndpoint).port;
    expect(port).toBeGreaterThan(0);
    await t.http.get('/metrics').expect(404);
    const metrics = request(`http://127.0.0.1:${port}`);
    const res = await metrics.get('/metrics').expect(200);
    expect(res.text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(res.text).toContain('cache_redis_up 0');
    await metrics.get('/health').expect(404);
    await metrics.post('/metrics').expect(404);
  });

  it('counts refused requests with request logging off, the 408 of a request not received in time included', async () => {
    const metrics = request(`http://127.0.0.1:${t.app.get(MetricsEndpoint).port}`);
    const scrape = async () => samples((await metrics.get('/metrics').expect(200)).text);
    const info = jest.spyOn(t.app.get<PinoInstance>(ROOT_LOGGER), 'info');
    try {
      const before = await scrape();
      // A body that never arrives: Node gives up after REQUEST_TIMEOUT_MS.
      const slow =
        'POST /characters HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"name":"a"}';
      expect(parseRawAnswer(await rawExchange(t, slow)).status).toBe(408);
      expect(parseRawAnswer(await rawExchange(t, TOO_LARGE)).status).toBe(431);
      const after = await scrape();
      expect(delta(before, after, REFUSED.timeout)).toBe(1);
      expect(delta(before, after, REFUSED.headersTooLarge)).toBe(1);
      expect(delta(before, after, REFUSED.badRequest)).toBe(0);
      expect(info).not.toHaveBeenCalledWith(expect.anything(), 'request refused');
    } finally {
      info.mockRestore();
    }
  });

  it('a collector that throws costs that scrape a 500, not the process, and the next scrape works', async () => {
    const registry = t.app.get(MetricsRegistry).registry;
    let broken = true;
    registry.registerMetric(
      new Gauge({
        name: 'test_flaky_collector',
        help: 'throws while `broken`',
        registers: [],
        collect() {
          if (broken) {
            throw new Error('collector exploded');
          }
          this.set(1);
        },
      }),
    );
    try {
      const metrics = request(`http://127.0.0.1:${t.app.get(MetricsEndpoint).port}`);
      const res = await metrics.get('/metrics').timeout(5_000).expect(500);
      expect(res.body).toMatchObject({ statusCode: 500, code: 'METRICS_UNAVAILABLE' });
      expect(res.text).not.toContain('exploded');
      broken = false;
      expect((await metrics.get('/metrics').expect(200)).text).toContain('test_flaky_collector 1');
    } finally {
      registry.removeSingleMetric('test_flaky_collector');
    }
  });
});
