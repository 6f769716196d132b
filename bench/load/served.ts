/**
 * How ours served a measured run, from its own /metrics scraped before and after it: how many anonymous GETs the
 * replay answered before Fastify and how many it handed on to Nest, the time Node spent in GC, and the requests
 * and mean duration per route and cache outcome (`http_request_duration_seconds`). Where a system's time went
 * by kind of request, which req/s and percentiles over the whole mix cannot tell.
 */
export interface Served {
  /** Wall time between the two scrapes: the measured run, the harness's 200 ms wait after it, and the second scrape. */
  seconds: number;
  replayed: number;
  passed: number;
  gcSeconds: number;
  /**
   * How late Node's event loop ran a timer over the run (mean and p99, ms; prom-client's
   * `nodejs_eventloop_lag_*`, which restart at every scrape): about how long one turn of the loop took, which
   * every request that waits on I/O pays once per wait.
   */
  loopDelayMeanMs: number;
  loopDelayP99Ms: number;
  /** `METHOD route cache` → answers and their mean duration in ms (every status together: 200s, 304s, 404s…). */
  routes: Record<string, { count: number; meanMs: number }>;
}

/** A scrape: each series (name and labels as exposed) and its value. */
export type Scrape = Map<string, number>;

/** Prometheus' text format → each sample line's value by `name{labels}` as written (comments skipped). */
export function parseExposition(text: string): Scrape {
  const series: Scrape = new Map();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (match) {
      series.set(match[1], Number(match[2]));
    }
  }
  return series;
}

/** The change between two scrapes of one server (see Served). */
export function servedBetween(before: Scrape, after: Scrape, seconds: number): Served {
  const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const sumOf = (prefix: string) =>
    [...after.keys()].filter((name) => name.startsWith(prefix)).reduce((total, name) => total + delta(name), 0);
  const totals = new Map<string, { count: number; seconds: number }>();
  for (const name of after.keys()) {
    const match = /^http_request_duration_seconds_count\{(.*)\}$/.exec(name);
    if (!match) {
      continue;
    }
    const count = delta(name);
    if (count <= 0) {
      continue;
    }
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
    const key = `${labels.method} ${labels.route} ${labels.cache || '-'}`;
    const total = totals.get(key) ?? { count: 0, seconds: 0 };
    total.count += count;
    total.seconds += delta(`http_request_duration_seconds_sum{${match[1]}}`);
    totals.set(key, total);
  }
  const routes: Served['routes'] = {};
  for (const [key, { count, seconds }] of [...totals].sort((a, b) => b[1].count - a[1].count)) {
    routes[key] = { count, meanMs: (seconds / count) * 1000 };
  }
  return {
    seconds,
    replayed: delta('http_replays_total{result="replayed"}'),
    passed: delta('http_replays_total{result="passed"}'),
    gcSeconds: sumOf('nodejs_gc_duration_seconds_sum'),
    loopDelayMeanMs: (after.get('nodejs_eventloop_lag_mean_seconds') ?? NaN) * 1000,
    loopDelayP99Ms: (after.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
    routes,
  };
}

/** One line for the progress log: replays, GC, and the routes that took the most time in all. */
export function describeServed(served: Served, top = 6): string {
  const busiest = Object.entries(served.routes)
    .sort((a, b) => b[1].count * b[1].meanMs - a[1].count * a[1].meanMs)
    .slice(0, top)
    .map(([route, { count, meanMs }]) => `${route} ${count}× ${meanMs.toFixed(1)} ms`);
  return `replayed ${served.replayed}, passed ${served.passed}, GC ${((served.gcSeconds / served.seconds) * 100).toFixed(1)} % of the run, event-loop delay mean ${served.loopDelayMeanMs.toFixed(1)} ms p99 ${served.loopDelayP99Ms.toFixed(1)} ms; ${busiest.join('; ')}`;
}
