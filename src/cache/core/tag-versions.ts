import type { ResolvedCacheOptions } from '../cache.options';
import type { TagStamp } from './envelope';
import { encodeKeyPart } from './keys';
import { CallBudget, type Maybe, newBudget, RedisTier, TagState, UNAVAILABLE } from './l2';

export type Freshness = 'fresh' | 'soft' | 'hard';

interface Known extends TagState {
  at: number;
  /** Until when the tag key is known to exist in Redis (from our last stamp of it); 0 when unknown. */
  aliveUntil: number;
  /** Last time this version was learned or stamped into an entry here (see `prune`). */
  usedAt: number;
}

/**
 * A tag invalidated while Redis could not be reached, until the invalidation is replayed there: entries stamped
 * below `below` are invalid (removed if `hard`), whatever Redis says meanwhile. `count` invalidations wait.
 */
interface Unsettled {
  below: number;
  hard: boolean;
  count: number;
}

/**
 * Slack when telling whether a tag's bump came during a load (see `stamp`): 100 µs, plus 0.1 % of the load's
 * duration for two clocks that may run at slightly different rates (NTP slews by up to 0.05 %).
 */
const BUMP_MARGIN_US = 100;
const CLOCK_RATE_SLACK = 1.001;

/** How often, at most, `prune` walks the known versions (or every `maxEntryLifetime`, if that is shorter). */
const PRUNE_EVERY_MS = 60 * 60_000;

/**
 * Tag versions, the O(1) way to invalidate every entry of a tag: each tag is one Redis hash `{ v, h }` bumped
 * atomically (`v` on every invalidation, `h` set to `v` on a hard one). An entry records `v` of each of its tags
 * when written; on read, `h` above the recorded version means removed, `v` above it means expired (still usable
 * as a fallback). No clocks are compared. Versions are known locally (kept current by the bus) so an L1 hit costs
 * no round trip; while the bus is down they are re-read from Redis after `tagRecheckMs`.
 */
export class TagVersions {
  private readonly known = new Map<string, Known>();
  /** Tags invalidated here that Redis has not heard of yet (see `bump` and `settle`); survives `clear`. */
  private readonly unsettled = new Map<string, Unsettled>();
  /**
   * Moves whenever a known tag's version moves or what is known is dropped: a verdict of 'fresh' reached at one
   * generation holds for as long as it stays the same (see `assessLocal`).
   */
  private generation = 0;
  private prunedAt = Date.now();

  constructor(
    private readonly options: ResolvedCacheOptions,
    private readonly l2: RedisTier | null,
    private readonly busConnected: () => boolean,
  ) {}

  key(tag: string): string {
    return `${this.options.keyPrefix}:tag:${encodeKeyPart(tag)}`;
  }

  /**
   * Versions to record in an entry about to be written; each tag is kept alive for at least `lifetimeMs`.
   *
   * With `loadedSince` (a `performance.now()` taken when the value's load began), the tags are those only the
   * value gave, stamped after its load: null when Redis shows a bump of one of them that may have come after
   * that moment. Its version, stamped, would mark a value read before the write as current; and this instance
   * may not have heard of the bump yet, so the invalidation clock cannot tell. "May have": Redis' clock says how
   * long ago the bump was, this process' clock how long ago the load began, and only durations are compared.
   */
  async stamp(tags: readonly string[], lifetimeMs: number, budget?: CallBudget): Promise<TagStamp[]>;
  async stamp(tags: readonly string[], lifetimeMs: number, budget: CallBudget | undefined, loadedSince: number | undefined): Promise<TagStamp[] | null>;
  async stamp(tags: readonly string[], lifetimeMs: number, budget?: CallBudget, loadedSince?: number): Promise<TagStamp[] | null> {
    if (tags.length === 0) {
      return [];
    }
    const started = Date.now();
    const states = this.l2
      ? await this.l2.stampTags(tags.map((t) => this.key(t)), lifetimeMs, this.options.maxEntryLifetimeMs, budget)
      : UNAVAILABLE;
    if (states === UNAVAILABLE) {
      return tags.map((tag) => [tag, this.usedState(tag, started).v]);
    }
    // Measured after the answer, so at least as long as the load had run when Redis looked (plus a margin).
    const loadAgoUs = loadedSince === undefined ? undefined : (performance.now() - loadedSince) * 1_000 * CLOCK_RATE_SLACK + BUMP_MARGIN_US;
    let bumpedDuringLoad = false;
    const stamps = tags.map((tag, i): TagStamp => {
      const { bumpedAgoUs } = states[i];
      bumpedDuringLoad ||= loadAgoUs !== undefined && bumpedAgoUs !== undefined && bumpedAgoUs <= loadAgoUs;
      return [tag, this.learn(tag, states[i], started + states[i].ttl).v];
    });
    return bumpedDuringLoad ? null : stamps;
  }

  /**
   * The versions to stamp when every tag is known well enough locally (same trust rule as `assessLocal`), so the
   * write need not wait for Redis to tell them; undefined when it must.
   */
  localStamps(tags: readonly string[], now: number, lifetimeMs: number): { stamps: TagStamp[]; alive: boolean } | undefined {
    const trustForever = !this.l2 || this.busConnected();
    const stamps: TagStamp[] = [];
    let alive = true;
    for (const tag of tags) {
      const state = this.known.get(tag);
      if (!state || (!trustForever && now - state.at > this.options.tagRecheckMs)) {
        return undefined;
      }
      state.usedAt = now;
      stamps.push([tag, state.v]);
      alive &&= state.aliveUntil >= now + lifetimeMs;
    }
    return { stamps, alive };
  }

  /**
   * Synchronous verdict when every tag is known well enough locally; undefined when Redis must be asked. With a
   * `memo` (the entry's own field), a 'fresh' verdict is remembered with the generation it was reached at, and the
   * next call answers from it while no version has moved: an L1 hit on a tagged entry then costs no lookup per
   * tag. Only while versions are trusted without rechecks (bus up, or no Redis): otherwise time matters too.
   */
  assessLocal(stamps: readonly TagStamp[], now: number, memo?: { tagsFreshAt: number }): Freshness | undefined {
    const trustForever = !this.l2 || this.busConnected();
    if (trustForever && memo?.tagsFreshAt === this.generation) {
      return 'fresh';
    }
    let verdict = this.unsettled.size > 0 ? this.unsettledVerdict(stamps) : 'fresh';
    if (verdict === 'hard') {
      return verdict;
    }
    for (const [tag, version] of stamps) {
      const state = this.known.get(tag);
      if (!state) {
        if (this.l2) {
          return undefined;
        }
        continue;
      }
      if (!trustForever && now - state.at > this.options.tagRecheckMs) {
        return undefined;
      }
      if (state.h > version) {
        return 'hard';
      }
      if (state.v > version) {
        verdict = 'soft';
      } else if (state.v < version && this.l2) {
        // The entry is newer than what is known here: a bump not heard of yet, or a newer incarnation of the key
        // (lost, then made again by another instance's stamp, which sends no bus message). Judged by Redis, which
        // also brings what is known here up to date: a bump made here while Redis is out must cover this entry.
        return undefined;
      }
    }
    if (memo && trustForever && verdict === 'fresh') {
      memo.tagsFreshAt = this.generation;
    }
    return verdict;
  }

  async assess(stamps: readonly TagStamp[], now: number, budget?: CallBudget): Promise<Freshness> {
    const local = this.assessLocal(stamps, now);
    if (local !== undefined || !this.l2) {
      return local ?? 'fresh';
    }
    const states = await this.l2.readTags(stamps.map(([tag]) => this.key(tag)), budget);
    if (states !== UNAVAILABLE) {
      // Every stamp creates its tag key, and keeps it alive past the entry's lifetime: a key missing now was lost
      // (evicted, flushed), maybe with bumps this entry missed. So the entry counts as removed, as it would once
      // the key is created again (see CREATE_TAG in l2.ts). Nothing is learned from the missing key.
      if (states.includes(null)) {
        return 'hard';
      }
      stamps.forEach(([tag], i) => this.learn(tag, states[i]!));
    }
    // Redis unreachable: judge by what is known locally (fail open; the bus resets L1 when it is back).
    let verdict = this.unsettled.size > 0 ? this.unsettledVerdict(stamps) : 'fresh';
    for (const [tag, version] of stamps) {
      const state = this.known.get(tag);
      if (state && state.h > version) {
        return 'hard';
      }
      if (state && state.v > version) {
        verdict = 'soft';
      }
    }
    return verdict;
  }

  /**
   * Bumps tags in Redis (or locally without it). Returns the new states, or UNAVAILABLE if Redis failed: then
   * this instance stops serving the tags' entries at once, and until the caller's replay reaches Redis (`settle`)
   * — even if it clears what it knows meanwhile, or reads the old versions back from Redis before the replay.
   */
  async bump(tags: readonly string[], hard: boolean, budget?: CallBudget): Promise<(TagState | null)[] | typeof UNAVAILABLE> {
    if (!this.l2) {
      tags.forEach((tag) => this.bumpLocally(tag, hard));
      return tags.map((t) => this.localState(t));
    }
    const states = await this.bumpInRedis(tags, hard, budget ?? newBudget());
    if (states === UNAVAILABLE) {
      for (const tag of tags) {
        // A known tag moves one version on, as the replay will move it, so entries written from now on stamp a
        // version that stays fresh; of an unknown tag no version can be told, so none of its entries is fresh.
        this.holdOne(tag, this.known.has(tag) ? this.bumpLocally(tag, hard).v : Infinity, hard);
      }
      this.generation++;
      return UNAVAILABLE;
    }
    return states;
  }

  /**
   * Bumps tags in Redis and learns their new states. Redis out of memory refuses the bump (a script that writes)
   * and still takes a DEL: the tag keys are deleted instead, and each state is null. A lost tag key makes every
   * entry stamped with it count as removed (see CREATE_TAG in l2.ts), so that is a hard invalidation whatever was
   * asked. Of a deleted key nothing is known here any more: its entries are judged by Redis, which finds it
   * missing, until a stamp creates it again.
   */
  async bumpInRedis(tags: readonly string[], hard: boolean, budget: CallBudget = newBudget()): Promise<Maybe<(TagState | null)[]>> {
    const keys = tags.map((t) => this.key(t));
    const states = await this.l2!.bumpTags(keys, hard, this.options.maxEntryLifetimeMs, budget);
    if (states !== UNAVAILABLE) {
      tags.forEach((tag, i) => this.learn(tag, states[i]));
      return states;
    }
    if (!budget.outOfMemory || (await this.l2!.del(keys)) === UNAVAILABLE) {
      return UNAVAILABLE;
    }
    // Redis answered and took the DEL: the rest of the call (its bus message) goes on.
    budget.failed = false;
    tags.forEach((tag) => this.forget(tag));
    return tags.map(() => null);
  }

  /** A tag whose key was deleted (here, or by another instance that said so on the bus). */
  forget(tag: string): void {
    if (this.known.delete(tag)) {
      this.generation++;
    }
  }

  /**
   * Invalidations of these tags are queued to be made again (PendingInvalidations.redoRecent): Redis may have lost them,
   * and hold the versions from before. Until each is `settle`d, none of the tags' entries is fresh here.
   */
  hold(tags: readonly string[], hard: boolean): void {
    tags.forEach((tag) => this.holdOne(tag, Infinity, hard));
    this.generation++;
  }

  /** One more invalidation of `tag` waiting for Redis: entries stamped below `below` are not fresh here meanwhile. */
  private holdOne(tag: string, below: number, hard: boolean): void {
    const waiting = this.unsettled.get(tag);
    this.unsettled.set(tag, {
      below: Math.max(below, waiting?.below ?? 0),
      hard: hard || (waiting?.hard ?? false),
      count: (waiting?.count ?? 0) + 1,
    });
  }

  /** An invalidation of these tags that `bump` could not send (or `hold` holds) has reached Redis, or was given up. */
  settle(tags: readonly string[]): void {
    for (const tag of tags) {
      const waiting = this.unsettled.get(tag);
      if (waiting && --waiting.count <= 0) {
        this.unsettled.delete(tag);
      }
    }
  }

  /** A version heard on the bus (or read from Redis): versions only move forward. */
  learn(tag: string, state: TagState, aliveUntil?: number): TagState {
    const now = Date.now();
    this.pruneEvery(now);
    const current = this.known.get(tag);
    // The tag key was lost and created again (see CREATE_TAG in l2.ts): its versions start afresh and do not
    // compare with what was known. Keys created since start above every earlier version, but a key created before
    // that restarted from 0, and keeping the larger version would then ignore the next bumps.
    const reborn = current?.i !== undefined && state.i !== undefined && state.i !== current.i;
    const before = reborn ? undefined : current;
    const next = {
      v: Math.max(state.v, before?.v ?? 0),
      h: Math.max(state.h, before?.h ?? 0),
      i: state.i ?? current?.i,
      at: now,
      aliveUntil: aliveUntil ?? current?.aliveUntil ?? 0,
      usedAt: now,
    };
    // A tag first heard of moves it too: without Redis, an unknown tag counts as version 0, and a memo may hold that.
    if (!current || reborn || next.v > current.v || next.h > current.h) {
      this.generation++;
    }
    this.known.set(tag, next);
    return next;
  }

  clear(): void {
    this.known.clear();
    this.generation++;
  }

  get size(): number {
    return this.known.size;
  }

  /**
   * Forgets versions neither learned nor stamped into an entry here for longer than `maxEntryLifetime`, so what
   * is known stays bounded by the tags in use (every tag any instance bumps reaches every instance by the bus).
   * Safe in every mode, without Redis too: an entry that recorded an older version of a tag was written before
   * that version was learned here, and so has outlived its whole lifetime; an entry written since recorded the
   * current version, and a tag that nobody knows is version 0 (with Redis: read again when next needed).
   */
  prune(now: number): void {
    this.prunedAt = now;
    const before = now - this.options.maxEntryLifetimeMs;
    let dropped = false;
    for (const [tag, state] of this.known) {
      if (state.usedAt < before) {
        this.known.delete(tag);
        dropped = true;
      }
    }
    if (dropped) {
      this.generation++;
    }
  }

  private pruneEvery(now: number): void {
    if (now - this.prunedAt >= Math.min(PRUNE_EVERY_MS, this.options.maxEntryLifetimeMs)) {
      this.prune(now);
    }
  }

  private bumpLocally(tag: string, hard: boolean): TagState {
    const current = this.localState(tag);
    const v = current.v + 1;
    return this.learn(tag, { v, h: hard ? v : current.h });
  }

  /** What waiting invalidations (`unsettled`) make of an entry's stamps. */
  private unsettledVerdict(stamps: readonly TagStamp[]): Freshness {
    let verdict: Freshness = 'fresh';
    for (const [tag, version] of stamps) {
      const waiting = this.unsettled.get(tag);
      if (waiting && version < waiting.below) {
        if (waiting.hard) {
          return 'hard';
        }
        verdict = 'soft';
      }
    }
    return verdict;
  }

  private localState(tag: string): TagState {
    return this.known.get(tag) ?? { v: 0, h: 0 };
  }

  /** `localState` for a version about to be stamped into an entry. */
  private usedState(tag: string, now: number): TagState {
    const state = this.known.get(tag);
    if (state) {
      state.usedAt = now;
    }
    return state ?? { v: 0, h: 0 };
  }
}
