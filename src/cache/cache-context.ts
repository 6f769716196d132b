import { AsyncLocalStorage } from 'node:async_hooks';
import type { CacheResult } from './cache.types';

/**
 * One cached read made inside a context: which entry (full key), and which bytes it gave (content hash). While
 * every read of a request is still fresh with the same hash, the request would get the same answer.
 */
export interface CacheRead {
  key: string;
  namespace: string;
  /** whether the entry may live in L1 (its policy's `l1`) */
  l1: boolean;
  hash: string;
}

interface Store {
  byValue: WeakMap<object, CacheResult<unknown>>;
  reads: CacheRead[];
  /** false once a read happened that could not be recorded (uncached, batch, a nested context) */
  complete: boolean;
  /** how long what was read stays good: the earliest fresh-until and stale-until of the entries read */
  freshness: ReadFreshness;
}

/**
 * Until when an answer built from cache reads is fresh (`freshUntil`) and usable stale (`staleUntil`): the
 * earliest of its entries', since it is only as current as the least current of them. `stale` if one was served
 * stale. For HTTP caching headers: a gallery page cached for 15 minutes must not be kept longer by a CDN than the
 * character detail it was checked against (10 minutes).
 */
export interface ReadFreshness {
  freshUntil: number;
  staleUntil: number;
  stale: boolean;
}

/**
 * Lets an HTTP layer see how the value it is about to send was obtained, without any plumbing through
 * controllers and services: inside `CacheContext.run`, every cached read records its result keyed by the value
 * object itself. A response whose body *is* a recorded value (same object) can then be sent as the stored bytes,
 * with the entry's content hash as its ETag. Values that are not objects are not recorded.
 *
 * The context also lists every cached read of the request (`reads()`), so an HTTP layer can tell when the
 * answer depended on nothing but cache entries — and replay it while they are unchanged.
 */
export class CacheContext {
  private static readonly storage = new AsyncLocalStorage<Store>();

  static run<T>(fn: () => T): T {
    const outer = this.storage.getStore();
    if (outer) {
      // Reads inside the inner context are invisible to the outer one: its list is no longer the whole story.
      outer.complete = false;
    }
    const freshness = { freshUntil: Infinity, staleUntil: Infinity, stale: false };
    return this.storage.run({ byValue: new WeakMap(), reads: [], complete: true, freshness }, fn);
  }

  /** Whether a caller is inside `run` (so building a result to record is worth it). */
  static active(): boolean {
    return this.storage.getStore() !== undefined;
  }

  /** A cached read: its result (for `resultFor`) and, when it has an entry behind it, the read itself. */
  static record(result: CacheResult<unknown>, read?: Omit<CacheRead, 'hash'>): void {
    const store = this.storage.getStore();
    if (!store) {
      return;
    }
    if (result.envelope && read) {
      store.reads.push({ key: read.key, namespace: read.namespace, l1: read.l1, hash: result.envelope.header.h });
    } else {
      store.complete = false;
    }
    if (result.envelope) {
      const { freshness } = store;
      freshness.freshUntil = Math.min(freshness.freshUntil, result.envelope.header.f);
      freshness.staleUntil = Math.min(freshness.staleUntil, result.envelope.header.s);
      freshness.stale ||= result.source === 'stale';
    }
    if (typeof result.value === 'object' && result.value !== null) {
      store.byValue.set(result.value, result);
    }
  }

  /** A read that went past the cache (a condition said no, a batch read): the answer is not replayable. */
  static uncached(): void {
    const store = this.storage.getStore();
    if (store) {
      store.complete = false;
    }
  }

  /** The cache result whose value is exactly `value`, if one was recorded in this context. */
  static resultFor(value: unknown): CacheResult<unknown> | undefined {
    const store = this.storage.getStore();
    return store && typeof value === 'object' && value !== null ? store.byValue.get(value) : undefined;
  }

  /** How long the entries read in this context stay good (see ReadFreshness); undefined outside one. */
  static freshness(): ReadFreshness | undefined {
    return this.storage.getStore()?.freshness;
  }

  /** Every cached read of this context, or null when some read could not be recorded. */
  static reads(): readonly CacheRead[] | null {
    const store = this.storage.getStore();
    return store?.complete ? store.reads : null;
  }
}
