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

/**
 * A labelled counter that follows running totals kept elsewhere (a Map of totals by key), read at scrape time:
 * for counts bumped on a hot path, where a prom-client `inc` per event would cost more than the event.
 */
export function followedCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
  totals: ReadonlyMap<string, number>,
  labelsOf: (key: string) => Record<L, string>,
): void {
  const seen = new Map<string, number>();
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [key, total] of totals) {
        const delta = total - (seen.get(key) ?? 0);
        if (delta > 0) {
          this.inc(labelsOf(key), delta);
          seen.set(key, total);
        }
      }
    },
  });
}
