import { Registry } from 'prom-client';
import { followedCounter } from './prom-helpers';

describe('followedCounter', () => {
  it('exports a key from its first scrape, even at 0, then follows its total (a total that went down starts over)', async () => {
    const registry = new Registry();
    const totals = new Map<string, number>([['a', 0]]);
    followedCounter(registry, 'things_total', 'Things', ['kind'], () => totals.entries(), (kind) => ({ kind }));
    const value = async (kind: string) => {
      const metric = await registry.getSingleMetric('things_total')!.get();
      return metric.values.find((v) => v.labels.kind === kind)?.value;
    };

    expect(await value('a')).toBe(0);
    totals.set('a', 5);
    totals.set('b', 3);
    expect(await value('a')).toBe(5);
    expect(await value('b')).toBe(3);
    // The source restarted (a process, a Redis): its new total is all new.
    totals.set('a', 2);
    expect(await value('a')).toBe(7);
    expect(await value('b')).toBe(3);
  });
});
