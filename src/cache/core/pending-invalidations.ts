import type { Logger } from '@nestjs/common';
import type { ResolvedCacheOptions } from '../cache.options';
import type { CacheBus } from './cache-bus';
import type { CacheMetrics } from './cache-metrics';
import type { InvalidationClock } from './invalidation-clock';
import type { L1Store } from './l1';
import { type CallBudget, newBudget, type RedisTier, type TagState, UNAVAILABLE } from './l2';
import type { RateLimitedLogger } from './rate-limited-logger';
import { RecentInvalidations } from './recent-invalidations';
import type { TagVersions } from './tag-versions';

/** A bus message as this instance sends it (CacheBus puts the origin in). */
type BusNews = Parameters<CacheBus['publish']>[0];
/**
 * An invalidation that could not reach Redis, or whose bus message could not be sent (`tell`: Redis has it
 * already, only other instances have not heard); `seq` orders ops against writes (see `supersede`).
 */
type PendingOp = {
  seq: number;
  /** Set on a DEL or bump made again after a reconnect (see redoRecent): the time its records reach back to. */
  redoFrom?: number;
} & (
  | { kind: 'del'; keys: string[] }
  | { kind: 'tags'; tags: string[]; hard: boolean }
  | { kind: 'tell'; news: BusNews; tries: number }
);
type TellOp = Extract<PendingOp, { kind: 'tell' }>;
/** A bus message refused this many times (by a Redis that answers: a PUBLISH an ACL denies) is given up. */
const MAX_TELL_TRIES = 3;
/** Keys or tags per op of a redo (see redoRecent): each op must get through within one command timeout. */
const REDO_CHUNK = 500;

/**
 * The invalidations Redis or the other instances may still lack, kept until they have them (see "Writes while
 * Redis is out" and "Redis loses its last writes" in the README). Those Redis did not take, and bus messages that
 * could not be sent, wait in order and are replayed when Redis is back; those Redis took are remembered for
 * `redoWindow` and made again after a reconnect, in case Redis lost them. CacheService decides what to invalidate
 * and applies it in process; this only sees that Redis and the bus end up with it, and tells CacheService which
 * keys Redis may still hold the old value of (`waitsForDel`).
 */
export class PendingInvalidations {
  private pending: PendingOp[] = [];
  /** Sequence of the last op queued. */
  private queued = 0;
  /** Keys of the DELs in `pending`, with how many of them hold each: Redis may still hold what they remove. */
  private readonly pendingKeys = new Map<string, number>();
  private replaying = false;
  /** Invalidations that reached Redis lately: made again after a reconnect (see RecentInvalidations). */
  private readonly recent: RecentInvalidations;
  /** Since the connection to Redis was lost: when Redis last answered before that (performance.now()). */
  private lostAt: number | null = null;
  private probeTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    /** Null when no Redis is configured. */
    private readonly l2: RedisTier | null,
    private readonly tags: TagVersions,
    private readonly clock: InvalidationClock,
    private readonly l1: L1Store,
    /** A bus message; true when there is no bus to tell. */
    private readonly publish: (news: BusNews, budget?: CallBudget) => Promise<boolean>,
    private readonly metrics: CacheMetrics,
    private readonly log: RateLimitedLogger,
    private readonly logger: Logger,
    private readonly options: Pick<ResolvedCacheOptions, 'maxPendingInvalidations' | 'redoWindowMs' | 'breaker'>,
  ) {
    this.recent = new RecentInvalidations(options.redoWindowMs, options.maxPendingInvalidations);
  }

  /** Ops waiting for Redis or the bus. */
  get size(): number {
    return this.pending.length;
  }

  /** Sequence of the last op queued: a write that reads it before it starts passes it to `supersede`. */
  get lastQueued(): number {
    return this.queued;
  }

  /** A DEL of `key` has not reached Redis yet: what Redis holds may be the very value it removes. */
  waitsForDel(key: string): boolean {
    return this.pendingKeys.size > 0 && this.pendingKeys.has(key);
  }

  /** The command connection closed: a redo once it is back reaches back to when Redis last answered. */
  connectionLost(): void {
    this.lostAt ??= this.l2!.lostSince(this.recent.latestAt);
  }

  /** A shard of the cluster has a new master, which may lack the last invalidations (`masterLostAt`: see watchShards). */
  shardFailedOver(masterLostAt: number | undefined): void {
    this.lostAt = Math.min(this.lostAt ?? Infinity, masterLostAt ?? Infinity, this.l2!.lastAnswerAt);
  }

  /** Shutting down: no more probes. */
  close(): void {
    this.closing = true;
    clearTimeout(this.probeTimer);
  }

  queue(op: DistributiveOmit<PendingOp, 'seq'>): void {
    if (this.pending.length > 0 && this.pending.length >= this.options.maxPendingInvalidations) {
      this.retire(this.pending.shift()!);
      this.log.warn('Too many invalidations waiting for Redis: the oldest was dropped');
    }
    const queued = { ...op, seq: ++this.queued };
    if (queued.kind === 'del') {
      // A key named twice (two evictions of one call) is one DEL of it: `pendingKeys` counts ops, and `supersede`
      // and `retire` release a key once per op.
      queued.keys = [...new Set(queued.keys)];
      queued.keys.forEach((k) => this.pendingKeys.set(k, (this.pendingKeys.get(k) ?? 0) + 1));
    }
    this.pending.push(queued);
    this.scheduleProbe();
  }

  /**
   * Keys a write meant to replace or expire, which Redis did not take. Out of memory (see `isOutOfMemory` in l2.ts)
   * it still takes a DEL: the keys go now, and other instances are told after it (one that heard a message sent
   * along with the refused write may have read the old value back meanwhile). Otherwise a DEL waits for Redis to
   * be back (`replayPending`), and the old value stays there and in other instances' L1 until then.
   */
  async removeOrQueue(keys: string[], budget: CallBudget): Promise<void> {
    if (budget.outOfMemory && (await this.l2!.del(keys)) !== UNAVAILABLE) {
      this.remember({ keys });
      this.removedForLackOfMemory();
      await this.tell({ k: keys }, newBudget());
    } else {
      this.queue({ kind: 'del', keys });
    }
  }

  /** The bus message of a bump: new versions, and the tags whose keys were deleted instead (see TagVersions.bumpInRedis). */
  bumpNews(tags: readonly string[], states: readonly (TagState | null)[]): BusNews {
    const news: BusNews = {};
    tags.forEach((tag, i) => {
      const state = states[i];
      if (state) {
        (news.t ??= []).push(busTag(tag, state));
      } else {
        (news.g ??= []).push(tag);
      }
    });
    if (news.g) {
      this.removedForLackOfMemory();
    }
    return news;
  }

  private removedForLackOfMemory(): void {
    this.log.warn('Redis is out of memory: invalidations delete keys instead of writing them (check maxmemory and maxmemory-policy)');
  }

  /**
   * A bus message for other instances; queued when it cannot be sent now (Redis itself is right already), as
   * refused once: MAX_TELL_TRIES counts every refusal, this one too.
   */
  async tell(news: BusNews, budget: CallBudget): Promise<void> {
    if (!(await this.publish(news, budget))) {
      this.queue({ kind: 'tell', news, tries: 1 });
    }
  }

  /**
   * A write of `key` reached Redis and the bus: a DEL of it queued before the write began (`before`) would only
   * remove the newer value. One queued after it stays: it is a later write.
   */
  supersede(key: string, before: number): void {
    if (!this.pendingKeys.has(key)) {
      return;
    }
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const op = this.pending[i];
      if (op.seq <= before && op.kind === 'del' && op.keys.includes(key)) {
        op.keys = op.keys.filter((k) => k !== key);
        this.release(key);
        if (op.keys.length === 0) {
          this.pending.splice(i, 1);
        }
      }
    }
  }

  /** A queued invalidation has reached Redis (or was dropped): what it held back is read from Redis again. */
  private retire(op: PendingOp): void {
    if (op.kind === 'tags') {
      this.tags.settle(op.tags);
    } else if (op.kind === 'del') {
      op.keys.forEach((key) => this.release(key));
    }
  }

  private release(key: string): void {
    const count = this.pendingKeys.get(key) ?? 0;
    if (count <= 1) {
      this.pendingKeys.delete(key);
    } else {
      this.pendingKeys.set(key, count - 1);
    }
  }

  /** Redis is back: replay, in order, the invalidations it missed, so other instances' L2 reads are right again. */
  async replayPending(): Promise<void> {
    if (this.replaying || this.pending.length === 0 || !this.l2) {
      return;
    }
    this.replaying = true;
    try {
      while (this.pending.length > 0) {
        const head = this.pending[0];
        let tell: TellOp;
        if (head.kind === 'tell') {
          tell = head;
        } else {
          const news = head.kind === 'del' ? await this.replayDel(head.keys) : await this.replayTags(head.tags, head.hard);
          if (news === null) {
            return;
          }
          if (head.redoFrom !== undefined) {
            this.metrics.invalidationsRedone += head.kind === 'del' ? head.keys.length : head.tags.length;
          }
          // Redis has it now; what is left is telling other instances (never a second DEL or bump). By identity:
          // an overflow (which retires what it drops) or `supersede` may have taken the op out meanwhile.
          tell = { seq: head.seq, kind: 'tell', news, tries: 0 };
          const at = this.pending.indexOf(head);
          if (at >= 0) {
            this.retire(head);
            this.pending[at] = tell;
          } else {
            this.pending.unshift(tell);
          }
        }
        if (!(await this.publish(tell.news))) {
          if (++tell.tries < MAX_TELL_TRIES) {
            return;
          }
          this.log.warn('Gave up on a cache bus message that Redis keeps refusing');
        }
        const at = this.pending.indexOf(tell);
        if (at >= 0) {
          this.pending.splice(at, 1);
        }
      }
    } finally {
      this.replaying = false;
    }
  }

  /**
   * Reads of these keys since the delete may have found the old value in Redis again (a read that closed the
   * breaker, say) and kept it in L1: it goes, and reads still out do not keep what they bring back.
   */
  private async replayDel(keys: string[]): Promise<BusNews | null> {
    if ((await this.l2!.del(keys)) === UNAVAILABLE) {
      return null;
    }
    this.remember({ keys });
    this.clock.keysInvalidated(keys);
    keys.forEach((k) => this.l1.delete(k));
    return { k: keys };
  }

  /** The bump, and the news of it for other instances; null if Redis did not take it. */
  private async replayTags(tags: string[], hard: boolean): Promise<BusNews | null> {
    const states = await this.tags.bumpInRedis(tags, hard);
    if (states === UNAVAILABLE) {
      return null;
    }
    this.remember({ tags, hard });
    this.clock.tagsInvalidated(tags);
    return this.bumpNews(tags, states);
  }

  /**
   * An invalidation reached Redis: kept for `redoWindow`, in case Redis loses it (see RecentInvalidations). Redis
   * has just answered, so what is older than the window before now is older than the window before Redis last
   * answered too, and `redoRecent` would never pick it: it can go.
   */
  remember(done: { keys: string[] } | { tags: string[]; hard: boolean }): void {
    const now = performance.now();
    this.recent.prune(now);
    const dropped = 'keys' in done ? this.recent.keysDone(done.keys, now) : this.recent.tagsDone(done.tags, done.hard, now);
    if (dropped > 0) {
      this.log.warn(
        `More invalidations within redoWindow than maxPendingInvalidations (${this.options.maxPendingInvalidations}): the oldest would not be made again after a reconnect`,
      );
    }
  }

  /**
   * The connection to Redis is back after it was lost: the invalidations made shortly before Redis last answered
   * (and since) are queued again, since Redis may have lost them — a failover to a replica they had not reached
   * yet, a restart from an append-only file. Queued, not sent here: they go in order with what is already
   * waiting, and until they are done this instance reads neither those keys from Redis (`pendingKeys`) nor
   * entries of those tags as fresh (`TagVersions.hold`). A redo still waiting from an earlier reconnect (the
   * connection dropped again before it got through) is replaced by one reaching back to the earlier time.
   */
  redoRecent(why = 'Redis is back'): void {
    const lostAt = this.lostAt;
    this.lostAt = null;
    if (lostAt === null) {
      return;
    }
    let from = lostAt - this.recent.windowMs;
    for (const op of this.pending.filter((o) => o.redoFrom !== undefined)) {
      from = Math.min(from, op.redoFrom!);
      this.pending.splice(this.pending.indexOf(op), 1);
      this.retire(op);
    }
    const redo = this.recent.since(from);
    for (let i = 0; i < redo.keys.length; i += REDO_CHUNK) {
      this.queue({ kind: 'del', keys: redo.keys.slice(i, i + REDO_CHUNK), redoFrom: from });
    }
    for (const [tags, hard] of [[redo.hardTags, true], [redo.softTags, false]] as const) {
      for (let i = 0; i < tags.length; i += REDO_CHUNK) {
        const chunk = tags.slice(i, i + REDO_CHUNK);
        this.tags.hold(chunk, hard);
        this.queue({ kind: 'tags', tags: chunk, hard, redoFrom: from });
      }
    }
    const count = redo.keys.length + redo.hardTags.length + redo.softTags.length;
    if (count > 0) {
      this.logger.warn(`${why}: making again ${count} invalidation(s) from just before the connection was lost, in case Redis lost them`);
    }
  }

  /**
   * While the breaker is open or invalidations wait for Redis, probe it in the background (PING) so the breaker
   * closes and missed invalidations are replayed even when no request happens to come by.
   */
  scheduleProbe(): void {
    if (this.probeTimer || this.closing || !this.l2) {
      return;
    }
    const l2 = this.l2;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void l2.ping().then(async (answer) => {
        if (answer !== UNAVAILABLE) {
          await this.replayPending();
        }
        if (l2.breaker.state !== 'closed' || this.pending.length > 0) {
          this.scheduleProbe();
        }
      });
    }, this.options.breaker.openMs + 10);
    this.probeTimer.unref();
  }
}

/** A tag's new state as the bus carries it (the incarnation only when known). */
function busTag(tag: string, { v, h, i }: TagState): [string, number, number, string?] {
  return i === undefined ? [tag, v, h] : [tag, v, h, i];
}

/** Omit over each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
