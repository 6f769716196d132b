import { Counter, Gauge, Registry } from 'prom-client';

export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** A gauge read at scrape time; `undefined` keeps the previous value (nothing new to say). */
export function gauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => number | null | undefined,
): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      const value = read();
      if (value !== null && value !== undefined) {
        this.set(value);
      }
    },
  });
}

/**
 * A counter that follows a running total kept elsewhere, read at scrape time. A total that went down (Redis
 * restarted) starts over: its new value is all new.
 */
export function mirroredCounter(
  registry: Registry,
  name: string,
  help: string,
  read: () => number | null | undefined,
): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const total = read();
      if (total === null || total === undefined) {
        return;
      }
      const delta = total >= seen ? total - seen : total;
      seen = total;
      if (delta > 0) {
        this.inc(delta);
      }
    },
  });
}
