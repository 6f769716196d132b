/** One run in progress: its result, and the invalidation clock (see InvalidationClock) when it started. */
export interface Flight<T> {
  readonly since: number;
  readonly promise: Promise<T>;
}

/**
 * A run still going this many times the longest hard timeout of its callers is no longer offered to new callers:
 * a loader that never settles must not hold its key for good, and one that is merely slow (a database in
 * trouble) should not be started again every hard timeout, piling more loads onto it.
 */
const ABANDON_AFTER = 5;

interface Running<T> extends Flight<T> {
  readonly startedAt: number;
  maxMs: number;
  timer?: NodeJS.Timeout;
}

/**
 * Concurrent calls for one key share one run of `work`; the next call after it settles starts a new one. A caller
 * may refuse the run in progress (`joinable`), e.g. one that started before a write this caller must see: it
 * then starts a new run, which later callers join instead.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Running<T>>();

  /** `since` is the clock of the caller starting a run; `maxMs` the caller's hard timeout (see ABANDON_AFTER). */
  run(key: string, since: number, work: () => Promise<T>, maxMs: number, joinable?: (flight: Flight<T>) => boolean): Flight<T> {
    const current = this.running.get(key);
    if (current && (!joinable || joinable(current))) {
      if (maxMs > current.maxMs) {
        current.maxMs = maxMs;
        this.arm(key, current);
      }
      return current;
    }
    const flight: Running<T> = {
      since,
      startedAt: performance.now(),
      maxMs,
      promise: work().finally(() => {
        clearTimeout(flight.timer);
        this.retire(key, flight);
      }),
    };
    // Callers may stop waiting (soft timeout); the rejection is still theirs to see, never "unhandled".
    flight.promise.catch(() => undefined);
    this.running.set(key, flight);
    this.arm(key, flight);
    return flight;
  }

  get size(): number {
    return this.running.size;
  }

  private arm(key: string, flight: Running<T>): void {
    clearTimeout(flight.timer);
    const left = flight.startedAt + ABANDON_AFTER * flight.maxMs - performance.now();
    flight.timer = setTimeout(() => this.retire(key, flight), Math.max(0, left));
    flight.timer.unref();
  }

  private retire(key: string, flight: Flight<T>): void {
    if (this.running.get(key) === flight) {
      this.running.delete(key);
    }
  }
}

export const TIMED_OUT = Symbol('timed-out');

/** Resolves with the promise's value, or TIMED_OUT after `ms`; the timer never keeps the process alive. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  if (ms <= 0) {
    return Promise.resolve(TIMED_OUT);
  }
  // One promise and one timer, no race/finally chain: this wraps every Redis command.
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms, TIMED_OUT);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: Error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
