import type { Logger } from '@nestjs/common';
import type { CacheBus } from './cache-bus';
import { CacheMetrics } from './cache-metrics';
import type { BreakerState } from './circuit-breaker';
import { InvalidationClock } from './invalidation-clock';
import type { L1Store } from './l1';
import { type CallBudget, type RedisTier, type TagState, UNAVAILABLE } from './l2';
import { PendingInvalidations } from './pending-invalidations';
import type { RateLimitedLogger } from './rate-limited-logger';
import type { TagVersions } from './tag-versions';

type BusNews = Parameters<CacheBus['publish']>[0];

const OOM_WARNING = 'Redis is out of memory: invalidations delete keys instead of writing them (check maxmemory and maxmemory-policy)';

/** Closed after each test: no probe of a finished test fires during the next. */
const made: PendingInvalidations[] = [];
afterEach(() => made.splice(0).forEach((pending) => pending.close()));

/**
 * Redis, the bus and the rest of what the queue talks to, by hand. `sent` is what reached Redis and the bus, in
 * the order it did: `DEL a,b`, `BUMP t hard`, `PUBLISH {"k":["a"]}`.
 */
function setup(options: { max?: number; redoWindowMs?: number; openMs?: number; redis?: 'none' } = {}) {
  const sent: string[] = [];
  const redis = {
    up: true,
    /** Keys whose DEL Redis refuses even when up. */
    refused: new Set<string>(),
    breaker: { state: 'closed' as BreakerState },
    lastAnswerAt: 0,
    pings: 0,
    /** While set, a DEL reaches Redis (it is in `sent`) but its answer waits for it. */
    gate: undefined as Promise<void> | undefined,
    async del(keys: string[]): Promise<number | typeof UNAVAILABLE> {
      if (!redis.up || keys.some((k) => redis.refused.has(k))) {
        return UNAVAILABLE;
      }
      sent.push(`DEL ${keys.join(',')}`);
      await redis.gate;
      return keys.length;
    },
    async ping(): Promise<string | typeof UNAVAILABLE> {
      redis.pings++;
      return redis.up ? 'PONG' : UNAVAILABLE;
    },
    lostSince: () => redis.lastAnswerAt,
  };
  const tags = {
    held: [] as [string[], boolean][],
    settled: [] as string[],
    async bumpInRedis(names: string[], hard: boolean): Promise<TagState[] | typeof UNAVAILABLE> {
      if (!redis.up) {
        return UNAVAILABLE;
      }
      sent.push(`BUMP ${names.join(',')}${hard ? ' hard' : ''}`);
      return names.map(() => ({ v: 2, h: hard ? 2 : 1 }));
    },
    hold: (names: string[], hard: boolean) => tags.held.push([[...names], hard]),
    settle: (names: string[]) => tags.settled.push(...names),
  };
  const bus = {
    up: true,
    tries: [] as BusNews[],
    async publish(news: BusNews): Promise<boolean> {
      bus.tries.push(news);
      if (bus.up) {
        sent.push(`PUBLISH ${JSON.stringify(news)}`);
      }
      return bus.up;
    },
  };
  const l1Deleted: string[] = [];
  const warnings: string[] = [];
  const logged: string[] = [];
  const clock = new InvalidationClock();
  const metrics = new CacheMetrics();
  const pending = new PendingInvalidations(
    options.redis === 'none' ? null : (redis as unknown as RedisTier),
    tags as unknown as TagVersions,
    clock,
    { delete: (key: string) => l1Deleted.push(key) } as unknown as L1Store,
    (news: BusNews, _budget?: CallBudget) => bus.publish(news),
    metrics,
    { warn: (message: string) => warnings.push(message) } as unknown as RateLimitedLogger,
    { warn: (message: string) => logged.push(message) } as unknown as Logger,
    {
      maxPendingInvalidations: options.max ?? 10_000,
      redoWindowMs: options.redoWindowMs ?? 10_000,
      breaker: { failureThreshold: 3, openMs: options.openMs ?? 1_000 },
    },
  );
  made.push(pending);
  /** Redis answers again, having last answered now (as the connection's ready check does). */
  const redisBack = () => {
    redis.up = true;
    redis.lastAnswerAt = performance.now();
  };
  return { pending, sent, redis, redisBack, tags, bus, clock, metrics, l1Deleted, warnings, logged };
}

/** Holds the answers to the DELs sent from now on; the function lets them through. */
function holdAnswers(redis: { gate: Promise<void> | undefined }): () => void {
  let release!: () => void;
  redis.gate = new Promise((resolve) => (release = resolve));
  return () => {
    redis.gate = undefined;
    release();
  };
}

/** Lets every promise callback run (setImmediate is never faked here). */
const settle = () => new Promise((resolve) => setImmediate(resolve));
const published = (news: BusNews) => `PUBLISH ${JSON.stringify(news)}`;
/** What went to Redis itself, without the bus messages. */
const toRedis = (sent: string[]) => sent.filter((s) => !s.startsWith('PUBLISH '));
const delSizes = (sent: string[]) => sent.filter((s) => s.startsWith('DEL ')).map((s) => s.split(',').length);
const bumpSizes = (sent: string[]) => sent.filter((s) => s.startsWith('BUMP ')).map((s) => s.split(',').length);

describe('PendingInvalidations: what Redis refused is replayed when it is back', () => {
  it('replays each op once, in order, then its bus message, and applies it in process again', async () => {
    const { pending, sent, redis, tags, clock, metrics, l1Deleted } = setup();
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['a'] });
    pending.queue({ kind: 'tags', tags: ['t'], hard: true });
    pending.queue({ kind: 'del', keys: ['b', 'c'] });
    await pending.replayPending();
    expect(pending.size).toBe(3);
    expect(sent).toEqual([]);

    redis.up = true;
    const before = clock.now();
    await pending.replayPending();
    expect(sent).toEqual([
      'DEL a',
      published({ k: ['a'] }),
      'BUMP t hard',
      published({ t: [['t', 2, 2]] }),
      'DEL b,c',
      published({ k: ['b', 'c'] }),
    ]);
    expect(pending.size).toBe(0);
    // Reads that found the old value in Redis meanwhile may have kept it: it goes, and they keep nothing.
    expect(l1Deleted).toEqual(['a', 'b', 'c']);
    expect(clock.changedSince(before, 'b', [])).toBe(true);
    expect(clock.changedSince(before, 'other', ['t'])).toBe(true);
    // The bump reached Redis: entries of the tag are read from Redis again.
    expect(tags.settled).toEqual(['t']);
    // Not a redo (see redoRecent).
    expect(metrics.invalidationsRedone).toBe(0);

    await pending.replayPending();
    expect(sent).toHaveLength(6);
  });

  it('sends nothing twice when asked to replay while a replay is under way', async () => {
    const { pending, sent, redis } = setup();
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['a'] });
    redis.up = true;
    const release = holdAnswers(redis);
    const first = pending.replayPending();
    const second = pending.replayPending();
    release();
    await Promise.all([first, second]);
    expect(sent).toEqual(['DEL a', published({ k: ['a'] })]);
  });

  it('stops at the first op Redis refuses, keeps it and what follows, and goes on from there next time', async () => {
    const { pending, sent, redis } = setup();
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['a'] });
    pending.queue({ kind: 'del', keys: ['b'] });
    pending.queue({ kind: 'del', keys: ['c'] });
    redis.up = true;
    redis.refused.add('b');
    await pending.replayPending();
    expect(sent).toEqual(['DEL a', published({ k: ['a'] })]);
    expect(pending.size).toBe(2);

    redis.refused.clear();
    await pending.replayPending();
    expect(sent.slice(2)).toEqual(['DEL b', published({ k: ['b'] }), 'DEL c', published({ k: ['c'] })]);
  });

  it('sends only the bus message again when Redis took the op but the bus did not: never a second DEL or bump', async () => {
    const { pending, sent, redis, bus, tags } = setup();
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['a'] });
    pending.queue({ kind: 'tags', tags: ['t'], hard: false });
    redis.up = true;
    bus.up = false;
    await pending.replayPending();
    expect(sent).toEqual(['DEL a']);
    expect(pending.size).toBe(2);
    // Redis has the DEL: the key is read from it again, though other instances have not heard yet.
    expect(pending.waitsForDel('a')).toBe(false);

    bus.up = true;
    await pending.replayPending();
    expect(sent).toEqual(['DEL a', published({ k: ['a'] }), 'BUMP t', published({ t: [['t', 2, 1]] })]);
    expect(tags.settled).toEqual(['t']);
  });
});

describe('PendingInvalidations: bus messages', () => {
  it('sends a message now when it can, and queues it alone when it cannot', async () => {
    const { pending, sent, bus } = setup();
    await pending.tell({ k: ['a'] }, { failed: false });
    expect(sent).toEqual([published({ k: ['a'] })]);
    expect(pending.size).toBe(0);

    bus.up = false;
    await pending.tell({ k: ['b'] }, { failed: false });
    expect(pending.size).toBe(1);
    // Redis has the DEL already: only other instances lack it.
    expect(pending.waitsForDel('b')).toBe(false);
    bus.up = true;
    await pending.replayPending();
    expect(sent).toEqual([published({ k: ['a'] }), published({ k: ['b'] })]);
  });

  it('gives a message up after 3 refusals while Redis answers (a PUBLISH an ACL denies), logs it and goes on', async () => {
    const { pending, sent, bus, warnings } = setup();
    bus.up = false;
    await pending.tell({ k: ['x'] }, { failed: false });
    pending.queue({ kind: 'del', keys: ['b'] });
    await pending.replayPending();
    // Refused when sent, and in one replay: the message still waits at the head, and what follows behind it.
    expect(pending.size).toBe(2);
    expect(sent).toEqual([]);
    expect(warnings).toEqual([]);

    await pending.replayPending();
    expect(warnings).toEqual(['Gave up on a cache bus message that Redis keeps refusing']);
    // 3 in all, the first one included (it was 4: the refusal before it was queued did not count).
    expect(bus.tries.filter((news) => news.k?.[0] === 'x')).toHaveLength(3);
    expect(sent).toEqual(['DEL b']);
    // The DEL's own message is refused in turn, and has its own 3 tries.
    expect(pending.size).toBe(1);
  });

  it('makes the message of a bump: new versions (the incarnation only when known), and tags whose keys were deleted', () => {
    const { pending, warnings } = setup();
    expect(pending.bumpNews(['a', 'b'], [{ v: 3, h: 1 }, { v: 4, h: 4, i: 'inc' }])).toStrictEqual({
      t: [
        ['a', 3, 1],
        ['b', 4, 4, 'inc'],
      ],
    });
    expect(warnings).toEqual([]);
    // Out of memory, Redis deleted the tag key instead of bumping it (see TagVersions.bumpInRedis).
    expect(pending.bumpNews(['a', 'gone'], [{ v: 5, h: 1 }, null])).toStrictEqual({ t: [['a', 5, 1]], g: ['gone'] });
    expect(warnings).toEqual([OOM_WARNING]);
  });
});

describe('PendingInvalidations: a write supersedes a DEL of its key queued before it began', () => {
  it('drops the key from DELs queued before the write began, and a DEL left with no key', async () => {
    const { pending, sent, redis } = setup();
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['k'] });
    pending.queue({ kind: 'del', keys: ['k', 'j'] });
    const before = pending.lastQueued;
    pending.supersede('k', before);
    expect(pending.size).toBe(1);
    expect(pending.waitsForDel('k')).toBe(false);
    expect(pending.waitsForDel('j')).toBe(true);
    redis.up = true;
    await pending.replayPending();
    expect(sent).toEqual(['DEL j', published({ k: ['j'] })]);
  });

  it('a DEL that names the key twice (two evictions of one call) no longer holds it back once superseded', async () => {
    const { pending, sent, redis } = setup();
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['k', 'k', 'j'] });
    pending.supersede('k', pending.lastQueued);
    // Were `k` counted twice and released once, this instance would never read it from Redis again.
    expect(pending.waitsForDel('k')).toBe(false);
    redis.up = true;
    await pending.replayPending();
    expect(sent).toEqual(['DEL j', published({ k: ['j'] })]);
    expect(pending.waitsForDel('j')).toBe(false);
  });

  it('keeps a DEL queued after the write began: it is a later invalidation', async () => {
    const { pending, sent, redis } = setup();
    const before = pending.lastQueued;
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['k'] });
    expect(pending.lastQueued).toBe(before + 1);
    pending.supersede('k', before);
    expect(pending.size).toBe(1);
    expect(pending.waitsForDel('k')).toBe(true);
    redis.up = true;
    await pending.replayPending();
    expect(sent).toEqual(['DEL k', published({ k: ['k'] })]);
  });

  it('leaves bumps and bus messages alone', () => {
    const { pending, redis, bus } = setup();
    redis.up = false;
    bus.up = false;
    pending.queue({ kind: 'del', keys: ['k'] });
    // A bump of a tag named as the key, and a message about the key (Redis has its DEL): neither is a DEL of it.
    pending.queue({ kind: 'tags', tags: ['k'], hard: true });
    pending.queue({ kind: 'tell', news: { k: ['k'] }, tries: 0 });
    pending.supersede('k', pending.lastQueued);
    expect(pending.size).toBe(2);
  });
});

describe('PendingInvalidations: waitsForDel', () => {
  it('is true from the queueing of a DEL until Redis answered every DEL of the key', async () => {
    const { pending, redis } = setup();
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['i', 'k'] });
    pending.queue({ kind: 'del', keys: ['k', 'j'] });
    const waiting = () => ['i', 'k', 'j', 'other'].filter((key) => pending.waitsForDel(key));
    expect(waiting()).toEqual(['i', 'k', 'j']);

    redis.up = true;
    redis.refused.add('j');
    const release = holdAnswers(redis);
    const replay = pending.replayPending();
    // The first DEL is out: Redis may still hold the old values until it answers.
    expect(waiting()).toEqual(['i', 'k', 'j']);
    release();
    await replay;
    // `k` has one more DEL to wait for.
    expect(waiting()).toEqual(['k', 'j']);

    redis.refused.clear();
    await pending.replayPending();
    expect(waiting()).toEqual([]);
  });
});

describe('PendingInvalidations: at most maxPendingInvalidations wait', () => {
  it('drops the oldest op past the cap, warns, and no longer holds back what it held', async () => {
    const { pending, sent, redis, tags, warnings, l1Deleted } = setup({ max: 2 });
    redis.up = false;
    pending.queue({ kind: 'tags', tags: ['t'], hard: true });
    pending.queue({ kind: 'del', keys: ['a'] });
    expect(warnings).toEqual([]);
    pending.queue({ kind: 'del', keys: ['b'] });
    expect(pending.size).toBe(2);
    expect(tags.settled).toEqual(['t']);
    pending.queue({ kind: 'del', keys: ['c'] });
    expect(pending.size).toBe(2);
    expect([pending.waitsForDel('a'), pending.waitsForDel('b'), pending.waitsForDel('c')]).toEqual([false, true, true]);
    expect(warnings).toEqual(Array(2).fill('Too many invalidations waiting for Redis: the oldest was dropped'));
    // Nothing else is done about it: L1 is not cleared.
    expect(l1Deleted).toEqual([]);

    redis.up = true;
    await pending.replayPending();
    expect(sent).toEqual(['DEL b', published({ k: ['b'] }), 'DEL c', published({ k: ['c'] })]);
  });

  it('still knows which keys wait for a DEL when the op whose DEL is out is dropped meanwhile', async () => {
    const { pending, sent, redis, bus } = setup({ max: 2 });
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['k'] }); // A
    pending.queue({ kind: 'del', keys: ['x'] }); // B
    redis.up = true;
    redis.refused.add('x');
    bus.up = false;
    const release = holdAnswers(redis);
    const replay = pending.replayPending(); // A's DEL is out
    pending.queue({ kind: 'del', keys: ['k'] }); // C, a later delete of k: drops A
    release();
    await replay;
    // A reached Redis: its bus message waits, ahead of B; C still holds k.
    expect(pending.size).toBe(3);
    expect(pending.waitsForDel('k')).toBe(true);

    redis.refused.clear();
    bus.up = true;
    await pending.replayPending();
    expect(sent).toEqual([
      'DEL k', // A, in the first replay
      published({ k: ['k'] }), // A's message, never a second DEL
      'DEL x',
      published({ k: ['x'] }),
      'DEL k', // C
      published({ k: ['k'] }),
    ]);
    expect(pending.waitsForDel('k')).toBe(false);
  });
});

describe('PendingInvalidations.removeOrQueue: keys a write meant to replace, which Redis did not take', () => {
  it('queues their DEL', async () => {
    const { pending, sent } = setup();
    await pending.removeOrQueue(['k'], { failed: true });
    expect(sent).toEqual([]);
    expect(pending.size).toBe(1);
    expect(pending.waitsForDel('k')).toBe(true);
  });

  it('out of memory, deletes them at once, tells the others after, warns, and redoes it after a reconnect', async () => {
    const { pending, sent, redis, redisBack, warnings } = setup();
    await pending.removeOrQueue(['k'], { failed: true, outOfMemory: true });
    expect(sent).toEqual(['DEL k', published({ k: ['k'] })]);
    expect(pending.size).toBe(0);
    expect(warnings).toEqual([OOM_WARNING]);

    redis.up = false;
    pending.connectionLost();
    redisBack();
    pending.redoRecent();
    expect(pending.waitsForDel('k')).toBe(true);
  });

  it('out of memory, queues the DEL when Redis refuses that too', async () => {
    const { pending, redis } = setup();
    redis.refused.add('k');
    await pending.removeOrQueue(['k'], { failed: true, outOfMemory: true });
    expect(pending.size).toBe(1);
    expect(pending.waitsForDel('k')).toBe(true);
  });
});

describe('PendingInvalidations: what Redis took is made again after a reconnect', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  it('makes again, after a lost connection, what reached Redis within redoWindow before it last answered, and not what is older', async () => {
    const { pending, sent, redis, redisBack, tags, metrics, logged } = setup({ redoWindowMs: 10_000 });
    pending.remember({ keys: ['old'] });
    jest.advanceTimersByTime(6_000);
    pending.remember({ keys: ['new'] });
    pending.remember({ tags: ['hard-t'], hard: true });
    pending.remember({ tags: ['soft-t'], hard: false });
    jest.advanceTimersByTime(5_000);
    redis.lastAnswerAt = performance.now(); // 11 s: `old` (0 s) is older than the window before it
    redis.up = false;
    pending.connectionLost();
    jest.advanceTimersByTime(30_000);
    redisBack();
    pending.redoRecent();
    expect(pending.size).toBe(3);
    expect([pending.waitsForDel('new'), pending.waitsForDel('old')]).toEqual([true, false]);
    // Until the bumps are through, none of the tags' entries is fresh here.
    expect(tags.held).toEqual([
      [['hard-t'], true],
      [['soft-t'], false],
    ]);
    expect(logged).toEqual([
      'Redis is back: making again 3 invalidation(s) from just before the connection was lost, in case Redis lost them',
    ]);

    await pending.replayPending();
    expect(toRedis(sent)).toEqual(['DEL new', 'BUMP hard-t hard', 'BUMP soft-t']);
    expect(metrics.invalidationsRedone).toBe(3);
    expect(tags.settled).toEqual(['hard-t', 'soft-t']);
  });

  it('makes nothing again without a lost connection, and a loss only once', () => {
    const { pending, redis, redisBack, logged } = setup();
    pending.remember({ keys: ['k'] });
    pending.redoRecent();
    expect(pending.size).toBe(0);

    redis.up = false;
    pending.connectionLost();
    redisBack();
    pending.redoRecent();
    pending.redoRecent();
    expect(pending.size).toBe(1);
    expect(logged).toHaveLength(1);
  });

  it('reaches back to the first loss when the connection is lost again before the redo got through', () => {
    const { pending, redis, redisBack } = setup();
    pending.remember({ keys: ['k'] });
    redis.lastAnswerAt = performance.now();
    redis.up = false;
    pending.connectionLost();
    jest.advanceTimersByTime(60_000);
    // It answered the ready check of the next connection, which dropped again at once.
    redis.lastAnswerAt = performance.now();
    pending.connectionLost();
    redisBack();
    pending.redoRecent();
    expect(pending.waitsForDel('k')).toBe(true);
  });

  it('replaces a redo still waiting from an earlier reconnect by one reaching back to the earlier time', async () => {
    const { pending, sent, redis, redisBack, tags, metrics } = setup();
    pending.remember({ keys: ['k'] });
    pending.remember({ tags: ['t'], hard: true });
    redis.lastAnswerAt = performance.now();
    redis.up = false;
    pending.connectionLost();
    redisBack();
    pending.redoRecent();
    redis.up = false; // dropped again before the redo got through
    await pending.replayPending();
    jest.advanceTimersByTime(60_000);
    redis.lastAnswerAt = performance.now(); // by itself, this loss would be redone from 50 s on
    pending.connectionLost();
    redisBack();
    pending.redoRecent();
    expect(pending.size).toBe(2);
    expect(pending.waitsForDel('k')).toBe(true);
    // The replaced bump was settled, and its replacement holds the tag again.
    expect(tags.held).toHaveLength(2);
    expect(tags.settled).toEqual(['t']);

    await pending.replayPending();
    expect(toRedis(sent)).toEqual(['DEL k', 'BUMP t hard']);
    expect(metrics.invalidationsRedone).toBe(2);
    expect(tags.settled).toEqual(['t', 't']);
  });

  it('after a shard failover, reaches back to when its master was lost, if that is earlier than its last answer', () => {
    const { pending, redis } = setup();
    pending.remember({ keys: ['a'] });
    jest.advanceTimersByTime(5_000);
    pending.remember({ keys: ['b'] });
    jest.advanceTimersByTime(15_000);
    redis.lastAnswerAt = performance.now(); // 20 s: the window reaches back to 10 s
    pending.shardFailedOver(undefined);
    pending.redoRecent('a shard of the cluster has a new master');
    expect(pending.size).toBe(0);

    pending.shardFailedOver(12_000); // back to 2 s: `b` (5 s) is in
    pending.redoRecent('a shard of the cluster has a new master');
    expect([pending.waitsForDel('a'), pending.waitsForDel('b')]).toEqual([false, true]);
  });

  it('makes a redo in ops of at most 500 keys or tags', async () => {
    const { pending, sent, redis, redisBack } = setup();
    const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    pending.remember({ keys: names('k', 1_200) });
    pending.remember({ tags: names('t', 501), hard: true });
    redis.lastAnswerAt = performance.now();
    redis.up = false;
    pending.connectionLost();
    redisBack();
    pending.redoRecent();
    expect(pending.size).toBe(5);
    await pending.replayPending();
    expect(delSizes(sent)).toEqual([500, 500, 200]);
    expect(bumpSizes(sent)).toEqual([500, 1]);
  });

  it('warns when more invalidations reach Redis within redoWindow than it keeps (maxPendingInvalidations)', () => {
    const { pending, warnings } = setup({ max: 2 });
    pending.remember({ keys: ['a', 'b'] });
    expect(warnings).toEqual([]);
    pending.remember({ keys: ['c'] });
    expect(warnings).toEqual([
      'More invalidations within redoWindow than maxPendingInvalidations (2): the oldest would not be made again after a reconnect',
    ]);
  });
});

describe('PendingInvalidations: the background probe', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  it('while ops wait, PINGs Redis every openMs + 10 ms, replays once it answers, then stops', async () => {
    const { pending, sent, redis } = setup({ openMs: 1_000 });
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['a'] });
    pending.queue({ kind: 'del', keys: ['b'] });
    expect(jest.getTimerCount()).toBe(1);
    await jest.advanceTimersByTimeAsync(1_009);
    expect(redis.pings).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(redis.pings).toBe(1);
    await jest.advanceTimersByTimeAsync(1_010);
    expect(redis.pings).toBe(2);

    redis.up = true;
    await jest.advanceTimersByTimeAsync(1_010);
    await settle();
    expect(redis.pings).toBe(3);
    expect(sent).toEqual(['DEL a', published({ k: ['a'] }), 'DEL b', published({ k: ['b'] })]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(redis.pings).toBe(3);
  });

  it('keeps probing while the breaker is open, even with nothing queued', async () => {
    const { pending, redis } = setup({ openMs: 1_000 });
    redis.breaker.state = 'open';
    pending.scheduleProbe();
    await jest.advanceTimersByTimeAsync(2 * 1_010);
    expect(redis.pings).toBe(2);
    redis.breaker.state = 'closed';
    await jest.advanceTimersByTimeAsync(3 * 1_010);
    expect(redis.pings).toBe(3);
  });

  it('probes no more once closed', async () => {
    const { pending, redis } = setup({ openMs: 1_000 });
    redis.up = false;
    pending.queue({ kind: 'del', keys: ['a'] });
    pending.close();
    pending.queue({ kind: 'del', keys: ['b'] });
    await jest.advanceTimersByTimeAsync(10_000);
    expect(redis.pings).toBe(0);
  });

  it('without Redis, keeps what is queued and neither probes nor replays', async () => {
    const { pending, sent } = setup({ redis: 'none' });
    pending.queue({ kind: 'tell', news: { k: ['a'] }, tries: 0 });
    expect(jest.getTimerCount()).toBe(0);
    await pending.replayPending();
    expect(sent).toEqual([]);
    expect(pending.size).toBe(1);
  });
});
