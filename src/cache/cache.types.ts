import type { Duration } from './core/duration';
import type { Envelope } from './core/envelope';
import type { KeyPart } from './core/keys';

/** A key before encoding: a declared namespace and the parts that make the entry unique. */
export interface CacheKey {
  namespace: string;
  parts: readonly KeyPart[];
}

export const cacheKey = (namespace: string, ...parts: KeyPart[]): CacheKey => ({ namespace, parts });

export interface CachePolicy {
  /** How long an entry is fresh. Default: the module's defaultTtl. */
  ttl?: Duration;
  /** How long past its TTL an entry may still be served (while one refresh runs) or used as a fallback. */
  grace?: Duration;
  /**
   * Tags to invalidate this entry by (its namespace is always one); a function gets the value. Fixed tags are
   * stamped before the load runs, so a write anywhere during it invalidates the entry; a function's tags can only
   * be stamped after it, when another instance's write during the load may not have reached this one yet: give
   * what is known beforehand as `tagsBefore`.
   */
  tags?: readonly string[] | ((value: unknown) => readonly string[]);
  /** More tags, known before the value is (from the call's arguments): stamped before the load, like fixed `tags`. */
  tagsBefore?: readonly string[];
  /** Do not store a value for which this returns true (it is still returned to the caller). */
  unless?: (value: unknown) => boolean;
  /** Cache `null` results: `true` for 30 s, or a duration. `undefined` results are never cached. */
  cacheNull?: boolean | Duration;
  /** Keep this entry in the in-process tier too. Default true. */
  l1?: boolean;
  /**
   * Store the entry compressed in Redis (raw DEFLATE, level 1) when it is at least this many bytes; `true` means
   * 1 KB. JSON full of URLs and repeated field names shrinks to about a third: Redis memory for a few tens of µs
   * per write and ~20 µs per Redis read of a 10 KB entry (L1 holds it uncompressed). Default: never.
   */
  compress?: boolean | number;
  /**
   * With a stale entry at hand, how long to wait for the loader before answering with the stale value (the
   * loader keeps running and updates the cache). Default 0 for entries past their TTL (stale-while-revalidate);
   * entries invalidated with mode `expire` wait up to the hard timeout (they only serve if the loader fails).
   */
  softTimeout?: Duration;
  /** Stop waiting for the loader after this long. Default: the module's hardTimeout. */
  hardTimeout?: Duration;
  /** Across instances, only the holder of a Redis lease runs the loader; others wait for its result. */
  lease?: boolean | Duration;
  /** Override the module's TTL jitter for this entry (0 turns it off). */
  jitter?: number;
}

/**
 * The policy of a `getMany` batch: a `CachePolicy` without `lease`. A lease per missing id would cost a Redis
 * round trip per id on every miss, and a waiter would have to split its one loader call by who holds which id;
 * batches share their loads within an instance only (see the README, "Batches").
 */
export type BatchPolicy = Omit<CachePolicy, 'lease'> & {
  /** Not for batches: concurrent batches share their loads within an instance, never across instances. */
  lease?: never;
};

/** Why a batch refuses `lease` (for callers the types do not stop). */
export const BATCH_LEASE_REFUSED =
  'does not take lease: it would be a Redis lease per missing id on every miss, for loads that are one call anyway (concurrent batches share their loads within an instance)';

/** Tags of one item of a `getMany` batch, by its index into the keys, on top of the batch policy's own. */
export interface BatchItemTags<T> {
  /** Known before the load (from the item's id): stamped before it, like `CachePolicy.tagsBefore`. */
  tagsBefore?: (index: number) => readonly string[];
  /** Of the loaded value: stamped after the load. */
  tags?: (value: T, index: number) => readonly string[];
}

export type CacheSource = 'l1' | 'l2' | 'miss' | 'stale';

/** A value with where it came from, and its envelope (bytes, content hash, times) when it is cached. */
export interface CacheResult<T> {
  value: T;
  source: CacheSource;
  envelope: Envelope | null;
}

export type EvictMode = 'remove' | 'expire';

export interface CacheStatus {
  redisConfigured: boolean;
  redisReady: boolean;
  busConnected: boolean;
  breaker: 'closed' | 'open' | 'half-open';
  l1Entries: number;
  l1Bytes: number;
  pendingInvalidations: number;
  /** Redis is configured but the cache is running on L1 alone. */
  degraded: boolean;
}

export class CacheLoadTimeoutError extends Error {
  constructor(key: string, ms: number) {
    super(`Loading ${key} took longer than ${ms} ms`);
    this.name = 'CacheLoadTimeoutError';
  }
}

/** The class whose decorators declared a namespace, and where (`Class.method`), for the error naming both. */
export interface NamespaceOwner {
  type: abstract new (...args: never[]) => unknown;
  where: string;
}
