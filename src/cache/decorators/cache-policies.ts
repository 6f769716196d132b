import type { CacheKey, CachePolicy, EvictMode } from '../cache.types';
import type { KeyPart } from '../core/keys';

/**
 * Who an entry is for. `public`: the answer is the same for everyone who may call the method (it may still
 * depend on a visibility class that is part of the key). `viewer`: the answer depends on who asks, so the
 * viewer's identity is required and becomes part of the key — a viewer-scoped policy without `viewer` does not
 * compile (and is refused at boot for plain JavaScript callers).
 */
export type CacheScope<A extends unknown[]> =
  | { scope: 'public'; viewer?: never }
  | { scope: 'viewer'; viewer: (...args: A) => KeyPart };

type BasePolicy = Omit<CachePolicy, 'tags' | 'unless'>;

export type CacheablePolicy<A extends unknown[], R> = BasePolicy &
  CacheScope<A> & {
    /** Declared namespace, e.g. `characters:detail`. */
    namespace: string;
    /** The key parts, from the method's own arguments (type-checked against its signature). */
    key: (...args: A) => readonly KeyPart[];
    /**
     * Tags, fixed or from the result and arguments. Tags from the result are stamped only after the method ran:
     * those the arguments alone give belong in `argTags`.
     */
    tags?: readonly string[] | ((result: R, ...args: A) => readonly string[]);
    /**
     * Tags from the arguments alone, stamped before the method runs: a write on any instance while it runs
     * (a character made private while its page loads) invalidates what it returns, everywhere.
     */
    argTags?: (...args: A) => readonly string[];
    /** Use the cache for this call only when true (otherwise the method runs as if undecorated). */
    condition?: (...args: A) => boolean;
    /** Do not store this result when true (it is still returned). */
    unless?: (result: R, ...args: A) => boolean;
  };

export type CachePutPolicy<A extends unknown[], R> = BasePolicy &
  CacheScope<A> & {
    namespace: string;
    /** Key parts from the result and arguments (a create knows its id only from the result). */
    key: (result: R, ...args: A) => readonly KeyPart[];
    tags?: readonly string[] | ((result: R, ...args: A) => readonly string[]);
    unless?: (result: R, ...args: A) => boolean;
  };

export interface CacheEvictPolicy<A extends unknown[], R> {
  /** Keys to remove, from the result (undefined with beforeInvocation) and the arguments. */
  keys?: (result: R | undefined, ...args: A) => readonly CacheKey[];
  /** Tags to invalidate. */
  tags?: readonly string[] | ((result: R | undefined, ...args: A) => readonly string[]);
  /** Whole namespaces to clear. */
  namespace?: string | readonly string[];
  /** Evict before the method runs (and even if it throws). Default: after it succeeds. */
  beforeInvocation?: boolean;
  /** `remove` (default) or `expire`: entries stay usable only as a fallback if reloading fails. */
  mode?: EvictMode;
}

/** A method that takes ids first and returns one result per id, in order: only missing ids reach it. */
export type CacheableBatchPolicy<I, Rest extends unknown[], R> = Omit<BasePolicy, 'lease'> &
  CacheScope<[readonly I[], ...Rest]> & {
    /** Not for batches (refused at boot too): concurrent batches share their loads within an instance only. */
    lease?: never;
    namespace: string;
    /** Key parts of one item. */
    key: (id: I, ...rest: Rest) => readonly KeyPart[];
    /** Tags, fixed or of one item's result and id. A function's tags are stamped only after the load (see `argTags`). */
    tags?: readonly string[] | ((result: R, id: I, ...rest: Rest) => readonly string[]);
    /**
     * Tags of one item from its id alone, stamped before the method runs, as `@Cacheable`'s `argTags`: a write on
     * any instance while the batch loads invalidates what the load returns for that item, everywhere.
     */
    argTags?: (id: I, ...rest: Rest) => readonly string[];
  };
