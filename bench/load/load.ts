import autocannon from 'autocannon';

/** One request of a workload, with what to check in its answer. */
export interface Planned {
  method: 'GET' | 'PATCH';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called with the answer; may record a stale read or a committed write. */
  check?: (status: number, body: string, xCache: string | undefined) => void;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationS?: number;
  /** Send exactly this many requests instead of running for a duration. */
  amount?: number;
  next: () => Planned;
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

/**
 * Runs autocannon against one system. Every request is chosen by `next()` when it is sent (so the workload can
 * follow a distribution and snapshot what the answer must show); every answer goes back to the plan's check.
 * The progress display is autocannon's own bar on a terminal, one line per run otherwise.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let hits = 0;
  let misses = 0;
  const statuses: Record<string, number> = {};
  const perSecond: number[] = [];
  const started = Date.now();
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    timeout: 10,
    ...(options.amount ? { amount: options.amount } : { duration: options.durationS ?? 10 }),
    requests: [
      {
        // `request` is autocannon's own fresh copy for this request: set what differs rather than copy its ~40
        // options again (at ~50 k req/s the harness shares one core with nothing to spare). Autocannon adds to
        // the headers only when there is a body, and then they are a new object here.
        setupRequest: (request: autocannon.Request, context: Context) => {
          const planned = options.next();
          context.planned = planned;
          request.method = planned.method;
          request.path = planned.path;
          request.headers = planned.body ? { 'content-type': 'application/json', ...planned.headers } : (planned.headers ?? NO_HEADERS);
          request.body = planned.body;
          return request;
        },
        onResponse: (status: number, body: string, context: Context, headers: Record<string, string>) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          const second = Math.floor((Date.now() - started) / 1000);
          perSecond[second] = (perSecond[second] ?? 0) + 1;
          const xCache = headers['x-cache'] ?? headers['X-Cache'];
          if (xCache === 'MISS') {
            misses++;
          } else if (xCache) {
            hits++;
          }
          context.planned?.check?.(status, body, xCache);
        },
      },
    ],
  } as autocannon.Options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  // Autocannon's histogram keeps whole milliseconds; at 50 k req/s every p99 is 1 or 2 ms, and a ratio of two
  // p99s is then 0.5, 1 or 2 by rounding alone. Keep each 2xx latency as measured (autocannon's own timing).
  const latencies = new Latencies();
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
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
