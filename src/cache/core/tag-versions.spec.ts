import type { ResolvedCacheOptions } from '../cache.options';
import type { TagStamp } from './envelope';
import { TagVersions } from './tag-versions';
import { RedisTier, UNAVAILABLE } from './l2';

const options = {
  keyPrefix: 'test',
  tagRecheckMs: 1_000,
  maxEntryLifetimeMs: 60_000,
} as ResolvedCacheOptions;

describe('TagVersions.assessLocal with a memo', () => {
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

describe('TagVersions.prune: what is known stays bounded by the tags in use', () => {
  let now: number;
  beforeEach(() => {
    now = 1_700_000_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  it('forgets versions neither learned nor stamped for longer than maxEntryLifetime, and keeps the others', async () => {
    const tags = new TagVersions(options, null, () => true);
    tags.learn('heard-once', { v: 3, h: 0 });
    tags.learn('stamped', { v: 2, h: 0 });
    now += 50_000;
    const e = { stamps: await tags.stamp(['stamped'], 10_000), memo: { tagsFreshAt: -1 } };
    expect(e.stamps).toEqual([['stamped', 2]]);

    now += 20_000;
    tags.prune(now);
    expect(tags.size).toBe(1);
    // The entry stamped 20 s ago is still judged by the version it recorded, and a bump still reaches it.
    expect(tags.assessLocal(e.stamps, now, e.memo)).toBe('fresh');
    await tags.bump(['stamped'], true);
    expect(tags.assessLocal(e.stamps, now, e.memo)).toBe('hard');
  });

  it('prunes by itself as versions are learned, at most every maxEntryLifetime', () => {
    const tags = new TagVersions(options, null, () => true);
    for (let i = 0; i < 1_000; i++) {
      tags.learn(`bus-${i}`, { v: 1, h: 0 });
    }
    now += 59_000;
    tags.learn('late', { v: 1, h: 0 });
    expect(tags.size).toBe(1_001);
    now += 2_000;
    tags.learn('later', { v: 1, h: 0 });
    expect(tags.size).toBe(2);
  });

  it('drops remembered verdicts too: with Redis, an entry whose tag was forgotten is judged by Redis again', () => {
    const tags = new TagVersions(options, {} as never, () => true);
    tags.learn('t', { v: 1, h: 0 });
    const e = { stamps: [['t', 1]] as TagStamp[], memo: { tagsFreshAt: -1 } };
    expect(tags.assessLocal(e.stamps, now, e.memo)).toBe('fresh');
    now += 61_000;
    tags.prune(now);
    expect(tags.assessLocal(e.stamps, now, e.memo)).toBeUndefined();
  });
});

describe('TagVersions.bump while Redis cannot be reached', () => {
  /** A Redis tier that answers every tag command with what `redis` holds, or not at all while `down`. */
  function tier(redis: Map<string, { v: number; h: number }>, state: { down: boolean }): RedisTier {
    const read = (keys: string[]) => (state.down ? UNAVAILABLE : keys.map((k) => redis.get(k) ?? { v: 0, h: 0 }));
    return {
      bumpTags: async (keys: string[]) => read(keys),
      readTags: async (keys: string[]) => read(keys),
      stampTags: async (keys: string[]) => (state.down ? UNAVAILABLE : keys.map((k) => ({ ...(redis.get(k) ?? { v: 0, h: 0 }), ttl: 60_000 }))),
    } as unknown as RedisTier;
  }

  it('keeps the entries of the tags it invalidated unusable until the replay settles them, whatever it forgets or re-reads meanwhile', async () => {
    const redis = new Map([['test:tag:known', { v: 4, h: 0 }], ['test:tag:unknown', { v: 7, h: 0 }]]);
    const state = { down: false };
    const tags = new TagVersions(options, tier(redis, state), () => true);
    const known = await tags.stamp(['known'], 1_000);
    const unknown: TagStamp[] = [['unknown', 7]]; // an entry another instance wrote; this one never saw the tag
    expect(await tags.assess(known, Date.now())).toBe('fresh');

    state.down = true;
    expect(await tags.bump(['known', 'unknown'], true)).toBe(UNAVAILABLE);
    expect(await tags.assess(known, Date.now())).toBe('hard');
    expect(await tags.assess(unknown, Date.now())).toBe('hard');
    // A value loaded since stamps the version the replay will give the known tag: that entry is fresh.
    expect(tags.assessLocal(await tags.stamp(['known'], 1_000), Date.now())).toBe('fresh');

    // Redis is back before the replay, and the bus reconnect made this instance forget every version.
    state.down = false;
    tags.clear();
    expect(await tags.assess(known, Date.now())).toBe('hard');
    expect(await tags.assess(unknown, Date.now())).toBe('hard');

    // The replay bumps Redis and settles the tags: Redis' versions rule again.
    redis.set('test:tag:known', { v: 5, h: 5 });
    redis.set('test:tag:unknown', { v: 8, h: 8 });
    tags.settle(['known', 'unknown']);
    tags.clear();
    expect(await tags.assess(known, Date.now())).toBe('hard');
    expect(await tags.assess([['known', 5]], Date.now())).toBe('fresh');
    expect(await tags.assess([['unknown', 8]], Date.now())).toBe('fresh');
  });
});

describe('TagVersions.stamp after a load (loadedSince)', () => {
  /** A tier whose stamps report a bump `bumpedAgoUs` before they ran (undefined: never bumped). */
  const tierBumped = (bumpedAgoUs: number | undefined) =>
    ({ stampTags: async (keys: string[]) => keys.map(() => ({ v: 7, h: 0, ttl: 60_000, bumpedAgoUs })) }) as unknown as RedisTier;
  const loadStartedMsAgo = (ms: number) => performance.now() - ms;

  it.each([
    ['bumped after the load began', 20_000, null],
    ['bumped within the margin of its start', 50_100, null],
    ['bumped before the load began', 60_000, [['t', 7]]],
    ['never bumped (the key was created by a stamp)', undefined, [['t', 7]]],
  ] as const)('%s: %p µs ago, for a load begun 50 ms ago', async (_name, bumpedAgoUs, expected) => {
    const tags = new TagVersions(options, tierBumped(bumpedAgoUs), () => true);
    expect(await tags.stamp(['t'], 1_000, undefined, loadStartedMsAgo(50))).toEqual(expected);
    // Learned either way: the next load stamps from what is known here.
    expect(tags.localStamps(['t'], Date.now(), 1_000)?.stamps).toEqual([['t', 7]]);
  });

  it('does not ask when the stamp is not after a load', async () => {
    const tags = new TagVersions(options, tierBumped(1), () => true);
    expect(await tags.stamp(['t'], 1_000)).toEqual([['t', 7]]);
  });
});
