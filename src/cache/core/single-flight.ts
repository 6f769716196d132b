/** Concurrent calls for one key share one run of `work`; the next call after it settles starts a new one. */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const current = this.running.get(key);
    if (current) {
      return current;
    }
    const promise = work().finally(() => this.running.delete(key));
    // Callers may stop waiting (soft timeout); the rejection is still theirs to see, never "unhandled".
    promise.catch(() => undefined);
    this.running.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.running.size;
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
