/** One run in progress: its result, and the invalidation clock (see InvalidationClock) when it started. */
export interface Flight<T> {
  readonly since: number;
  readonly promise: Promise<T>;
}

/**
 * Concurrent calls for one key share one run of `work`; the next call after it settles starts a new one. A caller
 * may refuse the run in progress (`joinable`), e.g. one that started before a write this caller must see: it
 * then starts a new run, which later callers join instead.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Flight<T>>();

  /**
   * `since` is the clock of the caller starting a run. After `maxMs` a run still going is no longer offered to
   * new callers (those waiting keep waiting on it): a loader that never settles must not hold its key for good.
   */
  run(key: string, since: number, work: () => Promise<T>, maxMs: number, joinable?: (flight: Flight<T>) => boolean): Flight<T> {
    const current = this.running.get(key);
    if (current && (!joinable || joinable(current))) {
      return current;
    }
    const timer = setTimeout(() => this.retire(key, flight), maxMs);
    timer.unref();
    const flight: Flight<T> = {
      since,
      promise: work().finally(() => {
        clearTimeout(timer);
        this.retire(key, flight);
      }),
    };
    // Callers may stop waiting (soft timeout); the rejection is still theirs to see, never "unhandled".
    flight.promise.catch(() => undefined);
    this.running.set(key, flight);
    return flight;
  }

  get size(): number {
    return this.running.size;
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
