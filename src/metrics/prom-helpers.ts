import { Counter, Gauge, Registry } from 'prom-client';

export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * A gauge read at scrape time; `null`/`undefined` (not known now: Redis down, no sample yet) exports NaN, never
 * the last good value — a dashboard must not show 3 ms of PING latency for a Redis that stopped answering.
 */
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
      this.set(value ?? NaN);
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
  followedCounter(registry, name, help, [], () => {
    const total = read();
    return total === null || total === undefined ? [] : [['', total]];
  }, () => ({}));
}

/**
 * A labelled counter that follows running totals kept elsewhere, by key (each key names its labels), read at
 * scrape time: for counts bumped on a hot path, where a prom-client `inc` per event would cost more than the
 * event. A total that went down starts over, as in `mirroredCounter`.
 */
export function followedCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
  totals: () => Iterable<readonly [key: string, total: number]>,
  labelsOf: (key: string) => Record<L, string>,
): void {
  const seen = new Map<string, number>();
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [key, total] of totals()) {
        const before = seen.get(key);
        const last = before ?? 0;
        const delta = total >= last ? total - last : total;
        seen.set(key, total);
        // A key seen for the first time is exported even at 0: a series that first appears holding its total
        // hides those counts from rate() and increase().
        if (delta > 0 || before === undefined) {
          this.inc(labelsOf(key), delta);
        }
      }
    },
  });
}
