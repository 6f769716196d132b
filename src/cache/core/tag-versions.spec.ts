import type { ResolvedCacheOptions } from '../cache.options';
import type { TagStamp } from './envelope';
import { TagVersions } from './tag-versions';

describe('TagVersions.assessLocal with a memo', () => {
  const options = {
    keyPrefix: 'test',
    tagRecheckMs: 1_000,
    maxEntryLifetimeMs: 60_000,
  } as ResolvedCacheOptions;
  const entry = (stamps: TagStamp[]) => ({ stamps, memo: { tagsFreshAt: -1 } });

  it('remembers a fresh verdict, and forgets it when a version moves', async () => {
    const tags = new TagVersions(options, null, () => true);
    const e = entry(await tags.stamp(['a', 'b'], 1_000));
    expect(tags.assessLocal(e.stamps, Date.now(), e.memo)).toBe('fresh');
    expect(e.memo.tagsFreshAt).toBeGreaterThanOrEqual(0);

    await tags.bump(['b'], false);
    expect(tags.assessLocal(e.stamps, Date.now(), e.memo)).toBe('soft');
    await tags.bump(['a'], true);
    expect(tags.assessLocal(e.stamps, Date.now(), e.memo)).toBe('hard');
  });

  it('forgets it when a tag the entry was judged without (unknown, so version 0) is first bumped', async () => {
    const tags = new TagVersions(options, null, () => true);
    const e = entry([['never-stamped-here', 0]]);
    expect(tags.assessLocal(e.stamps, Date.now(), e.memo)).toBe('fresh');
    await tags.bump(['never-stamped-here'], false);
    expect(tags.assessLocal(e.stamps, Date.now(), e.memo)).toBe('soft');
  });

  it('forgets it when what is known is dropped (a bus reconnect)', async () => {
    const tags = new TagVersions(options, null, () => true);
    const e = entry(await tags.stamp(['c'], 1_000));
    expect(tags.assessLocal(e.stamps, Date.now(), e.memo)).toBe('fresh');
    const remembered = e.memo.tagsFreshAt;
    tags.clear();
    tags.learn('c', { v: 5, h: 0 });
    expect(tags.assessLocal(e.stamps, Date.now(), e.memo)).toBe('soft');
    expect(e.memo.tagsFreshAt).toBe(remembered);
  });
});
