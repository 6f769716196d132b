import type { IncomingHttpHeaders } from 'node:http';
import autocannon from 'autocannon';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon's own builder, so prebuilt bytes are the bytes it would send
const requestBuilder = require('autocannon/lib/httpRequestBuilder') as (defaults: object) => (request: object) => Buffer;

/** One request of a workload, with what to check in its answer. */
export interface Planned {
  method: 'GET' | 'PATCH';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called with the answer; may record a stale read or a committed write. */
  check?: (status: number, body: string, xCache: string | undefined) => void;
}

/**
 * What a run sends. `next()` picks each request as it is sent, so it can follow state (the mix snapshots the
 * writes committed so far). A `sequence` is fixed: each connection cycles its own share of it, turned into bytes
 * once, so the load generator's core goes to sending and reading rather than to building every request again.
 */
export type Workload = { next: () => Planned; sequence?: undefined } | { sequence: readonly Planned[]; next?: undefined };

export interface LoadOptions {
  url: string;
  connections: number;
  durationS?: number;
  /** Send exactly this many requests instead of running for a duration (a sequence is then sent in order, once per plan). */
  amount?: number;
  workload: Workload;
  /** Label of the progress display. */
  title: string;
}

export interface LoadResult {
  requests: number;
  rps: number;
  /** Of 2xx answers, in ms as measured (not rounded to whole ms as autocannon's own figures are). */
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** X-Cache answers: HIT-L1, HIT-L2, STALE count as hits; MISS as misses. Zero on systems that do not say. */
  hits: number;
  misses: number;
  statuses: Record<string, number>;
  /** Answers in each second of the run (a system that stops answering shows as zeros, not as latency). */
  perSecond: number[];
}

const NO_HEADERS: Record<string, string> = {};

/** Latencies in ms, unrounded: a growing Float64Array (8 bytes per answer, ~5 MB for a 10 s round at 60 k req/s). */
export class Latencies {
  private values = new Float64Array(1 << 16);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = ms;
  }

  /** The nearest-rank quantile (q in 0..1); 0 when nothing was recorded. */
  quantile(q: number): number {
    if (this.n === 0) {
      return 0;
    }
    const sorted = this.values.subarray(0, this.n).sort();
    return sorted[Math.min(this.n - 1, Math.max(0, Math.ceil(q * this.n) - 1))];
  }
}

interface Context {
  planned?: Planned;
}

/** The fields of an autocannon request that a plan sets. */
function requestOf(planned: Planned): Pick<autocannon.Request, 'method' | 'path' | 'headers' | 'body'> {
  return {
    method: planned.method,
    path: planned.path,
    headers: planned.body ? { 'content-type': 'application/json', ...planned.headers } : (planned.headers ?? NO_HEADERS),
    body: planned.body,
  };
}

/** A request as autocannon's client sends it when no `setupRequest` rebuilds it: bytes built once, and the check. */
interface Prebuilt {
  requestBuffer: Buffer;
  onResponse?: (status: number, body: string, context: object, headers?: IncomingHttpHeaders) => void;
}

/** The part of autocannon's client that cycles its requests (internal; checked by `useRequests`). */
interface Iterator {
  requests: Prebuilt[];
  currentRequestIndex: number;
  currentRequest: Prebuilt;
}

/**
 * Each plan of a fixed sequence built into bytes once, by autocannon's own request builder, and shared by every
 * connection (they only write the bytes). Autocannon's public `setRequests` rebuilds every request of every
 * connection: tried with the Zipf scenario's 200 k-request sequence, that took ~5 s at the start of each run (about
 * 25 µs a request), counted by autocannon in the run's duration.
 */
function prebuild(url: string, sequence: readonly Planned[]): Prebuilt[] {
  const { hostname, port } = new URL(url);
  const build = requestBuilder({ hostname, port: Number(port) });
  const built = new Map<Planned, Prebuilt>();
  return sequence.map((planned) => {
    let request = built.get(planned);
    if (!request) {
      const check = planned.check;
      request = {
        requestBuffer: build(requestOf(planned)),
        ...(check && { onResponse: (status: number, body: string, _context: object, headers?: IncomingHttpHeaders) => check(status, body, xCacheIn(headers)) }),
      };
      built.set(planned, request);
    }
    return request;
  });
}

/**
 * Gives one connection its share of a prebuilt sequence: `ceil(n / connections)` requests from its own offset,
 * wrapping around (at least 64, as autocannon deep-copies its context each time a client's list starts over).
 */
function useRequests(client: object, prebuilt: readonly Prebuilt[], i: number, connections: number): void {
  const iterator = (client as { requestIterator?: Iterator }).requestIterator;
  if (!iterator || !Array.isArray(iterator.requests) || typeof iterator.currentRequestIndex !== 'number') {
    throw new Error('autocannon internals changed: its client has no requestIterator to give prebuilt requests to');
  }
  const size = Math.max(Math.ceil(prebuilt.length / connections), 64);
  iterator.requests = Array.from({ length: size }, (_, j) => prebuilt[(i * size + j) % prebuilt.length]);
  iterator.currentRequestIndex = 0;
  iterator.currentRequest = iterator.requests[0];
}

/** The X-Cache value of a response's raw headers (`[name, value, name, value, …]`, as the server cased them). */
function xCacheOf(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 7 && raw[i].toLowerCase() === 'x-cache') {
      return raw[i + 1];
    }
  }
  return undefined;
}

/** The X-Cache value of the header object autocannon gives `onResponse` (names as the server cased them). */
function xCacheIn(headers: IncomingHttpHeaders | undefined): string | undefined {
  return (headers?.['x-cache'] ?? headers?.['X-Cache']) as string | undefined;
}

/**
 * Runs autocannon against one system, with the workload's requests; every answer goes back to its plan's check.
 * The progress display is autocannon's own bar on a terminal, one line per run otherwise.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let hits = 0;
  let misses = 0;
  const statuses: Record<string, number> = {};
  const perSecond: number[] = [];
  const { sequence } = options.workload;
  const fixed = sequence && !options.amount ? prebuild(options.url, sequence) : null;
  let i = 0;
  const next = options.workload.next ?? (() => sequence![i++ % sequence!.length]);
  let clients = 0;
  const started = Date.now();
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    timeout: 10,
    ...(options.amount ? { amount: options.amount } : { duration: options.durationS ?? 10 }),
    requests: fixed
      ? // Replaced per connection in setupClient; autocannon needs a valid first request to start with.
        [requestOf(sequence![0])]
      : [
          {
            // `request` is autocannon's own fresh copy for this request: set what differs rather than copy its
            // ~40 options again.
            setupRequest: (request: autocannon.Request, context: Context) => {
              const planned = next();
              context.planned = planned;
              return Object.assign(request, requestOf(planned));
            },
            onResponse: (status: number, body: string, context: Context, headers?: IncomingHttpHeaders) => {
              context.planned?.check?.(status, body, xCacheIn(headers));
            },
          },
        ],
    setupClient: (client: autocannon.Client & NodeJS.EventEmitter) => {
      // Counted from the parser's header event: raw headers, no object built per answer.
      client.on('headers', (info: { headers: string[] }) => {
        const xCache = xCacheOf(info.headers);
        if (xCache === 'MISS') {
          misses++;
        } else if (xCache) {
          hits++;
        }
      });
      if (fixed) {
        useRequests(client, fixed, clients++, options.connections);
      }
    },
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  // Autocannon's histogram keeps whole milliseconds; at 50 k req/s every p99 is 1 or 2 ms, and a ratio of two
  // p99s is then 0.5, 1 or 2 by rounding alone. Keep each 2xx latency as measured (autocannon's own timing).
  const latencies = new Latencies();
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    const second = Math.floor((Date.now() - started) / 1000);
    perSecond[second] = (perSecond[second] ?? 0) + 1;
    if (status >= 200 && status < 300) {
      latencies.add(ms);
    }
  });
  if (process.stderr.isTTY) {
    autocannon.track(instance, { renderProgressBar: true, renderResultsTable: false, renderLatencyTable: false, progressBarString: `${options.title} [:bar] :percent` });
  }
  const result = await instance;
  return {
    requests: result.requests.total,
    rps: result.requests.total / (result.duration || 1),
    p50: latencies.quantile(0.5),
    p99: latencies.quantile(0.99),
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    hits,
    misses,
    statuses,
    perSecond: Array.from(perSecond, (n) => n ?? 0),
  };
}
