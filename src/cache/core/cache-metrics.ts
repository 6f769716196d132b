import type { BreakerState } from './circuit-breaker';

export type GetResult = 'hit' | 'miss' | 'stale';
export type Tier = 'l1' | 'l2' | 'none';
export type RedisErrorKind = 'timeout' | 'connection' | 'command' | 'skipped' | 'stuck' | 'oom' | 'readonly';

const TIERS: readonly Tier[] = ['l1', 'l2', 'none'];
const RESULTS: readonly GetResult[] = ['hit', 'miss', 'stale'];
const SLOT: Record<Tier, Record<GetResult, number>> = {
  l1: { hit: 0, miss: 1, stale: 2 },
  l2: { hit: 3, miss: 4, stale: 5 },
  none: { hit: 6, miss: 7, stale: 8 },
};
const SLOTS = 9;
/** A tag group worth a label of its own: a short word (`character` of `character:42`). */
const TAG_GROUP = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/**
 * The label a tag is counted under: the text before its first `:` (`character:42` → `character`), which the
 * code's tag builders fix, never the id after it; `other` for a tag without such a head.
 */
export function tagGroup(tag: string): string {
  const at = tag.indexOf(':');
  const head = at < 0 ? '' : tag.slice(0, at);
  return TAG_GROUP.test(head) ? head : 'other';
}

/**
 * Counters for the metrics module, labelled only by bounded values: namespaces (declared in code), tiers,
 * results, error kinds, tag groups. Never by key, id or user.
 */
export class CacheMetrics {
  readonly loads = new Map<string, number>();
  readonly loadErrors = new Map<string, number>();
  readonly loadSeconds = new Map<string, number[]>();
  readonly staleServed = new Map<string, number>();
  readonly evictions = new Map<string, number>();
  /** Values not cached because they are not plain JSON (see notPlainJson), by `namespace|kind`. */
  readonly refusals = new Map<string, number>();
  /** Tags invalidated, by group (see `tagGroup`): a tag reaches entries of any namespace. */
  readonly tagInvalidations = new Map<string, number>();
  readonly redisErrors = new Map<RedisErrorKind, number>();
  readonly redisCommandSeconds: number[] = [];
  breakerState: BreakerState = 'closed';
  busMessagesIn = 0;
  busMessagesOut = 0;
  busReconnects = 0;
  /** Invalidations (keys, tags) made again after Redis came back, in case it lost them (PendingInvalidations.redoRecent). */
  invalidationsRedone = 0;
  l1Bytes = 0;
  l1Entries = 0;
  redisUp = false;
  /** Reads per namespace, one slot per tier and result (see SLOT): a read is counted on every cache hit. */
  private readonly reads = new Map<string, Float64Array>();
  private readonly listeners: ((event: string, labels: Record<string, string>, value: number) => void)[] = [];

  /** For the metrics module: called on every counted event except reads (see `gets`, `staleServed`). */
  subscribe(listener: (event: string, labels: Record<string, string>, value: number) => void): void {
    this.listeners.push(listener);
  }

  get(namespace: string, tier: Tier, result: GetResult): void {
    let slots = this.reads.get(namespace);
    if (!slots) {
      slots = new Float64Array(SLOTS);
      this.reads.set(namespace, slots);
    }
    slots[SLOT[tier][result]]++;
    if (result === 'stale') {
      bump(this.staleServed, namespace);
    }
  }

  /**
   * Reads by `namespace|tier|result` (those seen at least once), for the metrics module and the health sampler
   * when they look: built on demand, so a read costs one lookup and an increment.
   */
  get gets(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [namespace, slots] of this.reads) {
      for (const tier of TIERS) {
        for (const result of RESULTS) {
          const count = slots[SLOT[tier][result]];
          if (count > 0) {
            out.set(`${namespace}|${tier}|${result}`, count);
          }
        }
      }
    }
    return out;
  }

  /** The labels a key of `gets` stands for. */
  static labelsOfGet(key: string): { namespace: string; tier: string; result: string } {
    const at = key.lastIndexOf('|');
    const before = key.lastIndexOf('|', at - 1);
    return { namespace: key.slice(0, before), tier: key.slice(before + 1, at), result: key.slice(at + 1) };
  }

  load(namespace: string, seconds: number, ok: boolean): void {
    bump(ok ? this.loads : this.loadErrors, namespace);
    this.emit(ok ? 'load' : 'load_error', { namespace }, seconds);
  }

  refused(namespace: string, kind: string): void {
    bump(this.refusals, `${namespace}|${kind}`);
    this.emit('refused', { namespace, kind });
  }

  eviction(namespace: string, count = 1): void {
    bump(this.evictions, namespace, count);
    this.emit('eviction', { namespace }, count);
  }

  tagsInvalidated(tags: readonly string[]): void {
    for (const tag of tags) {
      const group = tagGroup(tag);
      bump(this.tagInvalidations, group);
      this.emit('tag_invalidation', { group }, 1);
    }
  }

  redisError(kind: RedisErrorKind): void {
    bump(this.redisErrors, kind);
    this.emit('redis_error', { kind });
  }

  redisCommand(seconds: number): void {
    this.emit('redis_command', {}, seconds);
  }

  count(namespace: string, tier: Tier, result: GetResult): number {
    return this.reads.get(namespace)?.[SLOT[tier][result]] ?? 0;
  }

  private emit(event: string, labels: Record<string, string>, value = 1): void {
    for (const listener of this.listeners) {
      listener(event, labels, value);
    }
  }
}

function bump<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}
