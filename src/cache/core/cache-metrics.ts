import type { BreakerState } from './circuit-breaker';

export type GetResult = 'hit' | 'miss' | 'stale';
export type Tier = 'l1' | 'l2' | 'none';
export type RedisErrorKind = 'timeout' | 'connection' | 'command' | 'skipped';

/**
 * Counters for the metrics module, labelled only by bounded values: namespaces (declared in code), tiers,
 * results, error kinds. Never by key, id or user.
 */
export class CacheMetrics {
  /** Reads by `namespace|tier|result`, counted on every read: the metrics module reads the totals when scraped. */
  readonly gets = new Map<string, number>();
  readonly loads = new Map<string, number>();
  readonly loadErrors = new Map<string, number>();
  readonly loadSeconds = new Map<string, number[]>();
  readonly staleServed = new Map<string, number>();
  readonly evictions = new Map<string, number>();
  readonly redisErrors = new Map<RedisErrorKind, number>();
  readonly redisCommandSeconds: number[] = [];
  breakerState: BreakerState = 'closed';
  busMessagesIn = 0;
  busMessagesOut = 0;
  busReconnects = 0;
  l1Bytes = 0;
  l1Entries = 0;
  redisUp = false;
  private readonly getKeys = new Map<string, Record<Tier, Record<GetResult, string>>>();
  private readonly listeners: ((event: string, labels: Record<string, string>, value: number) => void)[] = [];

  /** For the metrics module: called on every counted event except reads (see `gets`, `staleServed`). */
  subscribe(listener: (event: string, labels: Record<string, string>, value: number) => void): void {
    this.listeners.push(listener);
  }

  get(namespace: string, tier: Tier, result: GetResult): void {
    bump(this.gets, this.getKey(namespace, tier, result));
    if (result === 'stale') {
      bump(this.staleServed, namespace);
    }
  }

  /** The labels a key of `gets` stands for (the inverse of `getKey`). */
  static labelsOfGet(key: string): { namespace: string; tier: string; result: string } {
    const at = key.lastIndexOf('|');
    const before = key.lastIndexOf('|', at - 1);
    return { namespace: key.slice(0, before), tier: key.slice(before + 1, at), result: key.slice(at + 1) };
  }

  /** `namespace|tier|result`, built once per namespace: a get is counted on every cache hit. */
  private getKey(namespace: string, tier: Tier, result: GetResult): string {
    let keys = this.getKeys.get(namespace);
    if (!keys) {
      const results = (t: Tier) => ({ hit: `${namespace}|${t}|hit`, miss: `${namespace}|${t}|miss`, stale: `${namespace}|${t}|stale` });
      keys = { l1: results('l1'), l2: results('l2'), none: results('none') };
      this.getKeys.set(namespace, keys);
    }
    return keys[tier][result];
  }

  load(namespace: string, seconds: number, ok: boolean): void {
    bump(ok ? this.loads : this.loadErrors, namespace);
    this.emit(ok ? 'load' : 'load_error', { namespace }, seconds);
  }

  eviction(namespace: string, count = 1): void {
    bump(this.evictions, namespace, count);
    this.emit('eviction', { namespace }, count);
  }

  redisError(kind: RedisErrorKind): void {
    bump(this.redisErrors, kind);
    this.emit('redis_error', { kind });
  }

  redisCommand(seconds: number): void {
    this.emit('redis_command', {}, seconds);
  }

  count(namespace: string, tier: Tier, result: GetResult): number {
    return this.gets.get(`${namespace}|${tier}|${result}`) ?? 0;
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
