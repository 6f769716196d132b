import { RecentInvalidations } from './recent-invalidations';

describe('RecentInvalidations', () => {
  it('hands back what was done at or after a time, keys and tags apart, hard tags apart from soft ones', () => {
    const recent = new RecentInvalidations(1_000, 100);
    recent.keysDone(['k1'], 10);
    recent.tagsDone(['t-hard'], true, 20);
    recent.tagsDone(['t-soft'], false, 30);
    recent.keysDone(['k2'], 40);
    expect(recent.since(0)).toEqual({ keys: ['k1', 'k2'], hardTags: ['t-hard'], softTags: ['t-soft'] });
    expect(recent.since(20)).toEqual({ keys: ['k2'], hardTags: ['t-hard'], softTags: ['t-soft'] });
    expect(recent.since(41)).toEqual({ keys: [], hardTags: [], softTags: [] });
  });

  it('keeps one record per key or tag, at the time it was last done', () => {
    const recent = new RecentInvalidations(1_000, 100);
    recent.keysDone(['k', 'k'], 10);
    recent.keysDone(['k'], 50);
    expect(recent.size).toBe(1);
    expect(recent.since(40).keys).toEqual(['k']);
  });

  it('redoes a tag as hard if it was invalidated hard since the time asked for, whatever came after', () => {
    const recent = new RecentInvalidations(1_000, 100);
    recent.tagsDone(['t'], true, 10);
    recent.tagsDone(['t'], false, 20);
    expect(recent.since(0)).toMatchObject({ hardTags: ['t'], softTags: [] });
    // The hard one is older than that: only the soft ones after it are redone.
    expect(recent.since(15)).toMatchObject({ hardTags: [], softTags: ['t'] });
  });

  it('drops what is older than the window only when pruned', () => {
    const recent = new RecentInvalidations(100, 100);
    recent.keysDone(['old'], 0);
    recent.tagsDone(['old-tag'], false, 10);
    recent.keysDone(['new'], 150);
    expect(recent.size).toBe(3);
    recent.prune(200);
    expect(recent.since(0)).toEqual({ keys: ['new'], hardTags: [], softTags: [] });
  });

  it('prunes by the time a record was last done, not first', () => {
    const recent = new RecentInvalidations(100, 100);
    recent.keysDone(['a'], 0);
    recent.keysDone(['b'], 50);
    recent.keysDone(['a'], 180);
    recent.prune(200);
    expect(recent.since(0).keys).toEqual(['a']);
  });

  it('keeps at most `max` records, dropping the oldest of keys and tags together', () => {
    const recent = new RecentInvalidations(1_000, 3);
    recent.tagsDone(['t1'], false, 1);
    recent.keysDone(['k1'], 2);
    recent.keysDone(['k2'], 3);
    recent.tagsDone(['t2'], false, 4);
    expect(recent.since(0)).toEqual({ keys: ['k1', 'k2'], hardTags: [], softTags: ['t2'] });
    recent.keysDone(['k3'], 5);
    expect(recent.since(0)).toEqual({ keys: ['k2', 'k3'], hardTags: [], softTags: ['t2'] });
  });

  it('says how many records it dropped while they were still inside the window', () => {
    const recent = new RecentInvalidations(100, 2);
    recent.keysDone(['k1', 'k2'], 0);
    expect(recent.keysDone(['k3'], 50)).toBe(1);
    expect(recent.tagsDone(['t'], false, 500)).toBe(0);
  });

  it('records nothing with a window of 0', () => {
    const recent = new RecentInvalidations(0, 100);
    recent.keysDone(['k'], 1);
    recent.tagsDone(['t'], true, 1);
    expect(recent.size).toBe(0);
  });
});
