import type { CacheMetrics } from '../cache';

export interface GetTotals {
  hits: number;
  stale: number;
  misses: number;
}

export interface HitRatio extends GetTotals {
  /** how far back the numbers reach (less than the window right after boot) */
  windowSeconds: number;
  gets: number;
  /** hits / gets; null when there were no gets */
  ratio: number | null;
}

/** Totals of every cache get since boot, by result, from the cache's own counters. */
export function getTotals(metrics: CacheMetrics): GetTotals {
  const totals: GetTotals = { hits: 0, stale: 0, misses: 0 };
  for (const [key, count] of metrics.gets) {
    const result = key.slice(key.lastIndexOf('|') + 1);
    if (result === 'hit') {
      totals.hits += count;
    } else if (result === 'stale') {
      totals.stale += count;
    } else {
      totals.misses += count;
    }
  }
  return totals;
}

/**
 * The hit ratio over a sliding window, from snapshots of the running totals taken by the sampler: nothing is
 * done per cache call, and the answer is the difference between now and the oldest snapshot in the window.
 */
export class HitRatioWindow {
  private readonly snapshots: { at: number; totals: GetTotals }[] = [];

  constructor(private readonly windowMs: number) {}

  record(at: number, totals: GetTotals): void {
    this.snapshots.push({ at, totals });
    // Keep the newest snapshot that is at least a window old: it is the baseline of the full window.
    while (this.snapshots.length > 1 && this.snapshots[1].at <= at - this.windowMs) {
      this.snapshots.shift();
    }
  }

  ratio(at: number, now: GetTotals): HitRatio {
    const base = this.snapshots[0] ?? { at, totals: { hits: 0, stale: 0, misses: 0 } };
    const hits = now.hits - base.totals.hits;
    const stale = now.stale - base.totals.stale;
    const misses = now.misses - base.totals.misses;
    const gets = hits + stale + misses;
    return {
      windowSeconds: Math.round((at - base.at) / 1000),
      gets,
      hits,
      stale,
      misses,
      ratio: gets > 0 ? Math.round((hits / gets) * 10_000) / 10_000 : null,
    };
  }
}
