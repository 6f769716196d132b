import { CacheMetrics } from '../cache';
import { getTotals, HitRatioWindow } from './hit-ratio';

describe('hit ratio', () => {
  it('sums the cache counters by result, whatever the namespace and tier', () => {
    const metrics = new CacheMetrics();
    metrics.get('a', 'l1', 'hit');
    metrics.get('a', 'l2', 'hit');
    metrics.get('b', 'none', 'miss');
    metrics.get('b', 'l1', 'stale');
    expect(getTotals(metrics)).toEqual({ hits: 2, stale: 1, misses: 1 });
  });

  it('counts only what happened inside the window', () => {
    const window = new HitRatioWindow(60_000);
    window.record(0, { hits: 100, stale: 0, misses: 100 });
    window.record(30_000, { hits: 150, stale: 0, misses: 100 });
    window.record(60_000, { hits: 160, stale: 0, misses: 110 });
    window.record(90_000, { hits: 190, stale: 0, misses: 110 });
    // The baseline is the newest snapshot at least a window old: 30 s ago → (190-150) hits of (300-250) gets.
    expect(window.ratio(90_000, { hits: 190, stale: 0, misses: 110 })).toEqual({
      windowSeconds: 60,
      gets: 50,
      hits: 40,
      stale: 0,
      misses: 10,
      ratio: 0.8,
    });
  });

  it('says null, not 0 or 1, when nothing was read', () => {
    const window = new HitRatioWindow(60_000);
    window.record(0, { hits: 5, stale: 0, misses: 5 });
    expect(window.ratio(10_000, { hits: 5, stale: 0, misses: 5 })).toMatchObject({
      gets: 0,
      ratio: null,
      windowSeconds: 10,
    });
  });
});
