import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { CacheModuleOptions, ResolvedCacheOptions } from './cache.options';
import { MODULE_OPTIONS_TOKEN } from './cache.module-definition';
import {
  BATCH_LEASE_REFUSED,
  BatchItemTags,
  BatchPolicy,
  CacheKey,
  CacheLoadTimeoutError,
  CachePolicy,
  CacheResult,
  CacheStatus,
  EvictMode,
} from './cache.types';
import { CacheContext, CacheRead } from './cache-context';
import { CacheBus } from './core/cache-bus';
import { CacheMetrics } from './core/cache-metrics';
import { toMs } from './core/duration';
import { Envelope, HeaderMemo, TagStamp } from './core/envelope';
import { InvalidationClock } from './core/invalidation-clock';
import { assertNamespace, assertNoNamespaceClash, buildKey, leaseKey, namespaceTag } from './core/keys';
import { L1Store } from './core/l1';
import { CallBudget, newBudget, RedisTier, UNAVAILABLE } from './core/l2';
import { notPlainJson } from './core/plain-json';
import { PendingInvalidations } from './core/pending-invalidations';
import type { NamespaceOwner } from './cache.types';
import { RateLimitedLogger } from './core/rate-limited-logger';
import { resolveCacheOptions } from './core/resolve-options';
import { SingleFlight, TIMED_OUT, within } from './core/single-flight';
import { Freshness, TagVersions } from './core/tag-versions';
import { closeRedisClient, createRedisClient, isClusterClient, RedisClient, watchShards } from './redis/redis-clients';

type Judgement = 'fresh' | 'expired' | 'invalidated' | 'unusable';
const DEFAULT_NULL_TTL_MS = 30_000;
const DEFAULT_LEASE_MS = 5_000;

/**
 * The two-tier cache: L1 in process, L2 in Redis, one envelope of bytes in both. Fails open: Redis trouble is
 * counted and logged, never thrown — every method answers from L1 or the loader when Redis cannot.
 */
@Injectable()
export class CacheService implements OnApplicationShutdown {
  readonly metrics = new CacheMetrics();
  readonly options: ResolvedCacheOptions;
  readonly enabled: boolean;
  private readonly logger = new Logger('Cache');
  private readonly log: RateLimitedLogger;
  private readonly l1: L1Store;
  private readonly client: RedisClient | null;
  private readonly subscriber: RedisClient | null;
  private readonly l2: RedisTier | null;
  private readonly bus: CacheBus | null;
  private readonly tags: TagVersions;
  private readonly loads = new SingleFlight<CacheResult<unknown>>();
  private readonly clock = new InvalidationClock();
  /** GETs in flight by key, with the invalidation clock when each was sent (see readL2). */
  private readonly l2Reads = new Map<string, L2Read>();
  /** Headers of entries read from Redis lately: a read of unchanged bytes skips the header parse. */
  private readonly headers = new HeaderMemo();
  private readonly instanceId = randomUUID();
  /** Invalidations Redis or the bus may still lack: queued, replayed, and redone after a reconnect. */
  private readonly invalidations: PendingInvalidations;
  private readonly namespaces = new Set<string>();
  /** The class whose decorators declared each namespace (see declareNamespace). */
  private readonly owners = new Map<string, NamespaceOwner>();

  constructor(@Inject(MODULE_OPTIONS_TOKEN) options: CacheModuleOptions) {
    this.options = resolveCacheOptions(options);
    this.enabled = options.enabled !== false;
    this.log = new RateLimitedLogger(this.logger, this.options.logIntervalMs);
    // Disabled: nothing is read or kept, but writes still invalidate (Redis and the bus): other instances, and
    // this one once caching is on again, must not serve what a write on this instance changed.
    this.l1 = new L1Store(this.enabled ? this.options.l1MaxBytes : 0);
    const redis = this.options.redis;
    if (!redis) {
      this.client = this.subscriber = this.l2 = this.bus = null;
      if (this.enabled) {
        this.logger.log('No Redis configured: caching in process only (L1)');
      }
    } else {
      const make = (role: 'commands' | 'bus') => {
        const build = () => createRedisClient(redis, this.options.commandTimeoutMs, role);
        return redis.createClient ? redis.createClient(role, build) : build();
      };
      this.client = make('commands');
      this.subscriber = make('bus');
      this.client.on('error', (e: Error) => this.log.warn(`Redis connection: ${e.message}`));
      this.client.on('ready', () => {
        this.metrics.redisUp = true;
        // A new connection that passed its ready check: Redis is there, so whatever waits for it (the redo
        // above all, which other instances may be reading around) goes now rather than at the next probe.
        this.l2?.breaker.success();
        this.invalidations.redoRecent();
        void this.invalidations.replayPending();
      });
      this.client.on('close', () => {
        this.metrics.redisUp = false;
        this.invalidations.connectionLost();
      });
      if (isClusterClient(this.client)) {
        // A shard's failover, like a reconnect: its new master may lack the last invalidations.
        watchShards(this.client, (masterLostAt) => {
          this.invalidations.shardFailedOver(masterLostAt);
          this.invalidations.redoRecent('a shard of the cluster has a new master');
          void this.invalidations.replayPending();
        });
      }
      this.l2 = new RedisTier(this.client, this.metrics, this.log, this.options.breaker, this.options.commandTimeoutMs, (state) => {
        if (state === 'closed') {
          void this.invalidations.replayPending();
        } else if (state === 'open') {
          this.invalidations.scheduleProbe();
        }
      });
      this.bus = new CacheBus(this.subscriber, this.l2, this.options.busChannel, this.instanceId, {
        keys: (keys) => {
          this.clock.keysInvalidated(keys);
          keys.forEach((k) => this.l1.delete(k));
        },
        tags: (states) => {
          this.clock.tagsInvalidated(states.map(([t]) => t));
          states.forEach(([tag, state]) => this.tags.learn(tag, state));
        },
        tagsRemoved: (tags) => {
          this.clock.tagsInvalidated(tags);
          tags.forEach((tag) => this.tags.forget(tag));
        },
        reconnected: () => this.forgetLocalState('the bus reconnected'),
      }, this.metrics, this.log, { every: this.options.busHeartbeatMs, within: Math.max(1_000, 5 * this.options.commandTimeoutMs) });
      this.bus.start();
    }
    this.tags = new TagVersions(this.options, this.l2, () => this.bus?.isConnected ?? false);
    this.invalidations = new PendingInvalidations(
      this.l2,
      this.tags,
      this.clock,
      this.l1,
      (news, budget) => this.publish(news, budget),
      this.metrics,
      this.log,
      this.logger,
      this.options,
    );
  }

  /** The full Redis key of a cache key (prefix, schema version, namespace, encoded parts). */
  keyOf(key: CacheKey): string {
    if (!this.namespaces.has(key.namespace)) {
      this.declareNamespace(key.namespace);
    }
    return buildKey(this.options.keyPrefix, key.namespace, key.parts);
  }

  /**
   * Checks a namespace before its first use (the decorators declare theirs at boot): a malformed one, or one
   * that extends another in use or is extended by it (`users` and `users:profile` could build the same key), is
   * an error.
   */
  declareNamespace(namespace: string, owner?: NamespaceOwner): void {
    if (owner) {
      // One class owns a namespace's entries (its @Cacheable, @CacheableBatch and @CachePut may share it): two
      // classes reading under one namespace would answer each other's calls — two services with one name
      // copied, or a decorated base-class method inherited by two repositories.
      const first = this.owners.get(namespace);
      if (first && first.type !== owner.type) {
        throw new Error(`cache namespace "${namespace}" is already used by ${first.where}: give each class its own namespace`);
      }
      this.owners.set(namespace, first ?? owner);
    }
    if (this.namespaces.has(namespace)) {
      return;
    }
    assertNamespace(namespace);
    assertNoNamespaceClash(namespace, this.namespaces);
    // Namespaces are declared in code, so this set stays small; the cap only guards against misuse.
    if (this.namespaces.size < 10_000) {
      this.namespaces.add(namespace);
    }
  }

  /** The fresh value, or undefined (a stale or missing entry is a miss here). */
  async get<T>(key: CacheKey): Promise<T | undefined> {
    const full = this.keyOf(key);
    if (!this.enabled) {
      CacheContext.uncached();
      return undefined;
    }
    const now = Date.now();
    const since = this.clock.now();
    const l1 = this.l1.get(full);
    if (l1 && (this.judgeSync(l1, now) ?? (await this.judge(l1, now))) === 'fresh') {
      this.metrics.get(key.namespace, 'l1', 'hit');
      // Only an HTTP layer listens (CacheContext): build nothing for it otherwise, this is the hot path.
      if (CacheContext.active()) {
        CacheContext.record({ value: l1.value, source: 'l1', envelope: l1 }, { key: full, namespace: key.namespace, l1: true });
      }
      return l1.value as T;
    }
    const l2 = await this.readL2(full);
    if (l2 && (this.judgeSync(l2, now) ?? (await this.judge(l2, now))) === 'fresh') {
      this.keepRead(full, l2, since, now);
      this.metrics.get(key.namespace, 'l2', 'hit');
      CacheContext.record({ value: l2.value, source: 'l2', envelope: l2 }, { key: full, namespace: key.namespace, l1: true });
      return l2.value as T;
    }
    this.metrics.get(key.namespace, 'none', 'miss');
    CacheContext.uncached();
    return undefined;
  }

  /** Stores a value now (as `@CachePut` does). Returns its envelope, or null when it was not cacheable. */
  async set<T>(key: CacheKey, value: T, policy: CachePolicy = {}): Promise<Envelope | null> {
    const full = this.keyOf(key);
    if (!this.enabled) {
      // Nothing is stored, but this is a write: what the key held must not outlive it.
      await this.delete([key]);
      return null;
    }
    this.clock.keysInvalidated([full]);
    // Other instances may hold the previous value in L1: they drop it and read the new one from Redis. The
    // message leaves in the same flush as the SET (one connection, so Redis runs it after the SET).
    const envelope = await this.store(key.namespace, full, value, policy, newBudget(), { since: this.clock.now(), publish: true });
    if (!envelope) {
      // Not cacheable (null without cacheNull, `unless`): the previous value must not outlive this write either.
      await this.delete([key]);
    }
    return envelope;
  }

  async getOrSet<T>(key: CacheKey, loader: () => Promise<T>, policy: CachePolicy = {}): Promise<T> {
    const full = this.keyOf(key);
    // The hot path, an L1 hit whose tags are known locally: no second async frame, and no result object unless
    // an HTTP layer is listening (CacheContext).
    if (policy.l1 !== false) {
      const env = this.l1.get(full);
      if (env && this.judgeSync(env, Date.now()) === 'fresh') {
        this.metrics.get(key.namespace, 'l1', 'hit');
        const value = env.value as T;
        if (CacheContext.active()) {
          CacheContext.record({ value, source: 'l1', envelope: env }, { key: full, namespace: key.namespace, l1: true });
        }
        return value;
      }
    }
    const result = await this.fetchKey(key.namespace, full, loader, policy);
    CacheContext.record(result, { key: full, namespace: key.namespace, l1: policy.l1 !== false });
    return result.value;
  }

  /**
   * `getOrSet` with the details an HTTP layer needs: where the value came from (`X-Cache`) and the envelope
   * (stored bytes, content hash for the ETag, fresh-until for Cache-Control).
   */
  async fetch<T>(key: CacheKey, loader: () => Promise<T>, policy: CachePolicy = {}): Promise<CacheResult<T>> {
    const full = this.keyOf(key);
    const result = await this.fetchKey(key.namespace, full, loader, policy);
    CacheContext.record(result, { key: full, namespace: key.namespace, l1: policy.l1 !== false });
    return result;
  }

  /**
   * `peekFresh` without waiting, for the common case: the result when L1 holds the entry, fresh, with the same
   * bytes, and its tag versions are known locally; null when L1 shows it changed or went stale (no point asking
   * Redis); undefined when only `peekFresh` can tell.
   */
  peekFreshSync(read: CacheRead): CacheResult<unknown> | null | undefined {
    if (!read.l1) {
      return undefined;
    }
    const env = this.l1.get(read.key);
    if (!env) {
      return undefined;
    }
    if (env.header.h !== read.hash) {
      return null;
    }
    const judgement = this.judgeSync(env, Date.now());
    if (judgement === undefined) {
      return undefined;
    }
    return judgement === 'fresh' ? { value: undefined, source: 'l1', envelope: env } : null;
  }

  /**
   * The entry a recorded read found, if it is still fresh and still holds the same bytes (same content hash):
   * L1 first, then Redis. Never loads and counts nothing (the caller counts the hits it uses, in `metrics`). For
   * a layer that replays an answer built from that read (see CacheContext.reads); anything else — stale,
   * missing, changed — is undefined, and the caller takes the normal path, which deals with it.
   */
  peekFresh(read: CacheRead): Promise<CacheResult<unknown> | undefined> {
    if (!this.enabled) {
      return Promise.resolve(undefined);
    }
    // Not an async function: it runs on every replay that needs Redis, where each `await` and async frame is a
    // promise more (and, with AsyncLocalStorage on, promise hooks more) per request.
    const now = Date.now();
    const since = this.clock.now();
    const inL1 = read.l1 ? this.l1.get(read.key) : undefined;
    if (inL1) {
      return Promise.resolve(this.peekJudged(read, inL1, 'l1', now, since));
    }
    return this.readL2(read.key).then((env) => (env ? this.peekJudged(read, env, 'l2', now, since) : undefined));
  }

  /** The rest of `peekFresh` once it has an envelope: synchronous unless a tag version must come from Redis. */
  private peekJudged(
    read: CacheRead,
    env: Envelope,
    source: 'l1' | 'l2',
    now: number,
    since: number,
  ): CacheResult<unknown> | undefined | Promise<CacheResult<unknown> | undefined> {
    if (env.header.h !== read.hash) {
      return undefined;
    }
    const verdict = (judgement: Judgement): CacheResult<unknown> | undefined => {
      if (judgement !== 'fresh') {
        return undefined;
      }
      if (source === 'l2' && read.l1) {
        this.keepRead(read.key, env, since, now);
      }
      return { value: undefined, source, envelope: env };
    };
    const judgement = this.judgeSync(env, now);
    return judgement !== undefined ? verdict(judgement) : this.judge(env, now).then(verdict);
  }

  private async fetchKey<T>(ns: string, full: string, loader: () => Promise<T>, policy: CachePolicy): Promise<CacheResult<T>> {
    if (!this.enabled) {
      return { value: await loader(), source: 'miss', envelope: null };
    }
    const now = Date.now();
    // This call must see every write that completed before it started, and nothing it reads may outlive one
    // that completes while it runs: both are told by the invalidation clock, from here.
    const since = this.clock.now();
    const budget = newBudget();
    let fallback: Envelope | null = null;
    let fallbackJudgement: Judgement = 'unusable';

    if (policy.l1 !== false) {
      const env = this.l1.get(full);
      if (env) {
        const judgement = this.judgeSync(env, now) ?? (await this.judge(env, now, budget));
        if (judgement === 'fresh') {
          this.metrics.get(ns, 'l1', 'hit');
          return { value: env.value as T, source: 'l1', envelope: env };
        }
        if (judgement === 'unusable') {
          this.l1.delete(full);
        } else {
          [fallback, fallbackJudgement] = [env, judgement];
        }
      }
    }
    const env = await this.readL2(full, budget);
    if (env) {
      const judgement = await this.judge(env, now, budget);
      if (judgement === 'fresh') {
        if (policy.l1 !== false) {
          this.keepRead(full, env, since, now);
        }
        this.metrics.get(ns, 'l2', 'hit');
        return { value: env.value as T, source: 'l2', envelope: env };
      }
      if (judgement !== 'unusable' && (!fallback || env.header.c > fallback.header.c)) {
        [fallback, fallbackJudgement] = [env, judgement];
      }
    }
    // A load of this key may have ended while we waited on Redis (our GET left before its SET): what it stored is
    // in L1 now, so take it rather than load a second time.
    const stored = policy.l1 !== false ? this.l1.get(full) : undefined;
    if (stored && stored !== fallback && this.judgeSync(stored, Date.now()) === 'fresh') {
      this.metrics.get(ns, 'l1', 'hit');
      return { value: stored.value as T, source: 'l1', envelope: stored };
    }
    return this.loadWithFallback(ns, full, loader, policy, fallback, fallbackJudgement, budget, since);
  }

  /**
   * Many keys at once: L1 first, then one MGET (slot-grouped on a cluster) for the rest, and one call of
   * `loadMissing` for what is still missing; each loaded value is stored under its own key. `loadMissing` gets
   * the indexes (into `keys`) it must load and returns values in that order. Tags that differ per item come from
   * `items` (by index into `keys`), on top of the policy's: `tagsBefore` (known before the load, stamped before it)
   * and `tags` (of the loaded value, stamped after it). Each missing key is loaded as `getOrSet` would load it
   * (see loadMany): shared with loads of it in progress, bounded by the hard timeout, stale within grace.
   */
  async getMany<T>(
    keys: readonly CacheKey[],
    loadMissing: (indexes: number[]) => Promise<readonly (T | null | undefined)[]>,
    policy: BatchPolicy = {},
    items: BatchItemTags<T> = {},
  ): Promise<(T | null | undefined)[]> {
    if (policy.lease) {
      throw new Error(`CacheService.getMany ${BATCH_LEASE_REFUSED}`);
    }
    const now = Date.now();
    const since = this.clock.now();
    const budget = newBudget();
    const full = keys.map((k) => this.keyOf(k));
    // Batch reads are not listed one by one: an answer built from them is not replayed.
    CacheContext.uncached();
    if (!this.enabled) {
      return [...(await loadMissing(keys.map((_, i) => i)))];
    }
    const out = new Array<T | null | undefined>(keys.length);
    let missing: number[] = [];
    /** Entries past fresh but still usable (by index), the fallback of a load that fails or is slow. */
    let stale: Map<number, Fallback> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const env = policy.l1 !== false ? this.l1.get(full[i]) : undefined;
      const judgement = env && (this.judgeSync(env, now) ?? (await this.judge(env, now)));
      if (judgement === 'fresh') {
        out[i] = env!.value as T;
        this.metrics.get(keys[i].namespace, 'l1', 'hit');
        continue;
      }
      if (judgement === 'unusable') {
        this.l1.delete(full[i]);
      } else if (judgement) {
        (stale ??= new Map()).set(i, { env, judgement });
      }
      missing.push(i);
    }
    if (missing.length > 0 && this.l2) {
      const found = await this.l2.mget(missing.map((i) => full[i]), budget);
      if (found !== UNAVAILABLE) {
        const still: number[] = [];
        for (const [j, i] of missing.entries()) {
          const bytes = found[j] && !this.invalidations.waitsForDel(full[i]) ? found[j] : null;
          const env = bytes ? Envelope.fromStored(full[i], bytes, this.headers) : null;
          const judgement = env ? await this.judge(env, now, budget) : 'unusable';
          if (judgement === 'fresh') {
            out[i] = env!.value as T;
            if (policy.l1 !== false) {
              this.keepRead(full[i], env!, since, now);
            }
            this.metrics.get(keys[i].namespace, 'l2', 'hit');
            continue;
          }
          const held = stale?.get(i);
          if (judgement !== 'unusable' && (!held || env!.header.c > held.env.header.c)) {
            (stale ??= new Map()).set(i, { env: env!, judgement });
          }
          still.push(i);
        }
        missing = still;
      }
    }
    if (missing.length > 0 && this.l2 && policy.l1 !== false) {
      // As in getOrSet: a load of a key may have ended while the MGET was out; what it stored is in L1 now.
      missing = missing.filter((i) => {
        const stored = this.l1.get(full[i]);
        if (!stored || stored === stale?.get(i)?.env || this.judgeSync(stored, Date.now()) !== 'fresh') {
          return true;
        }
        out[i] = stored.value as T;
        this.metrics.get(keys[i].namespace, 'l1', 'hit');
        return false;
      });
    }
    if (missing.length > 0) {
      await this.loadMany({ keys, full, missing, loadMissing, policy, items, stale, budget, since }, out);
    }
    return out;
  }

  /** Removes entries (or, with mode `expire`, ends their fresh period so they only serve as a fallback). */
  async delete(keys: readonly CacheKey[], mode: EvictMode = 'remove'): Promise<void> {
    if (keys.length === 0) {
      return;
    }
    const full = keys.map((k) => this.keyOf(k));
    this.clock.keysInvalidated(full);
    const now = Date.now();
    for (const key of full) {
      const env = mode === 'expire' ? this.l1.get(key) : undefined;
      if (env) {
        this.l1.set(key, env.expired(now), now);
      } else {
        this.l1.delete(key);
      }
    }
    keys.forEach((k) => this.metrics.eviction(k.namespace));
    if (!this.l2) {
      return;
    }
    const budget = newBudget();
    const done = mode === 'expire' ? await this.expireInL2(full, now, budget) : await this.l2.del(full, budget);
    // Unsent, the DEL (and its bus message) or only the message is sent again when Redis is back.
    if (done === UNAVAILABLE) {
      await this.invalidations.removeOrQueue(full, budget);
    } else {
      this.invalidations.remember({ keys: full });
      await this.invalidations.tell({ k: full }, budget);
    }
  }

  /** Invalidates every entry carrying any of the tags: O(1) Redis work per tag, whatever the number of entries. */
  async invalidateTags(tags: readonly string[], mode: EvictMode = 'remove'): Promise<void> {
    const unique = [...new Set(tags)];
    if (unique.length === 0) {
      return;
    }
    this.metrics.tagsInvalidated(unique);
    await this.bumpTags(unique, mode);
  }

  private async bumpTags(tags: string[], mode: EvictMode): Promise<void> {
    this.clock.tagsInvalidated(tags);
    const budget = newBudget();
    const states = await this.tags.bump(tags, mode === 'remove', budget);
    if (states === UNAVAILABLE) {
      this.invalidations.queue({ kind: 'tags', tags, hard: mode === 'remove' });
      return;
    }
    this.invalidations.remember({ tags, hard: mode === 'remove' });
    // Redis has the new versions; other instances trust theirs while their bus is up, so they must hear of them.
    await this.invalidations.tell(this.invalidations.bumpNews(tags, states), budget);
  }

  /** Every entry of a namespace, in O(1): the namespace is a tag every one of its entries carries. */
  clearNamespace(namespace: string, mode: EvictMode = 'remove'): Promise<void> {
    assertNamespace(namespace);
    // Counted as an eviction of the namespace, not as a tag invalidation too.
    this.metrics.eviction(namespace);
    return this.bumpTags([namespaceTag(namespace)], mode);
  }

  status(): CacheStatus {
    const redisReady = this.client?.status === 'ready';
    return {
      redisConfigured: this.client !== null,
      redisReady,
      busConnected: this.bus?.isConnected ?? false,
      breaker: this.l2?.breaker.state ?? 'closed',
      l1Entries: this.l1.size,
      l1Bytes: this.l1.bytes,
      pendingInvalidations: this.invalidations.size,
      degraded: this.client !== null && (!redisReady || this.l2?.breaker.state !== 'closed'),
    };
  }

  async onApplicationShutdown(): Promise<void> {
    this.invalidations.close();
    this.bus?.stop();
    await Promise.all([this.client, this.subscriber].filter((c) => c !== null).map((c) => closeRedisClient(c)));
  }

  // --- reading -------------------------------------------------------------------------------------------

  /**
   * An entry from Redis. Concurrent reads of one key share one GET: a hot key under load costs one round trip
   * (and one decode) per batch of readers instead of one per reader. A reader that joined a GET sent before an
   * invalidation of the key, or of a tag of the entry it brought back, reads again by itself: it must not see
   * data older than a write that had already completed when it started.
   */
  private readL2(key: string, budget?: CallBudget): Promise<Envelope | null> {
    // A DEL that has not reached Redis yet: what Redis holds may be the very value it removes.
    if (!this.l2 || this.invalidations.waitsForDel(key)) {
      return NO_ENVELOPE;
    }
    const flight = this.l2Reads.get(key);
    // Not an async function: the usual case hands the GET's own promise back, with no promise and no ticks added.
    return flight ? this.joinL2Read(this.l2, flight, key, budget) : this.sendL2Read(this.l2, key, budget);
  }

  private async joinL2Read(l2: RedisTier, flight: L2Read, key: string, budget?: CallBudget): Promise<Envelope | null> {
    const env = await flight.promise;
    if (!this.clock.entryChangedSince(flight.since, key, env ? env.header.t : [])) {
      return env;
    }
    return this.sendL2Read(l2, key, budget);
  }

  private sendL2Read(l2: RedisTier, key: string, budget?: CallBudget): Promise<Envelope | null> {
    const flight: L2Read = { since: this.clock.now(), promise: null as unknown as Promise<Envelope | null> };
    // One `then` decodes and retires the flight (readers already holding it still get its answer).
    const retire = () => {
      if (this.l2Reads.get(key) === flight) {
        this.l2Reads.delete(key);
      }
    };
    flight.promise = l2.get(key, budget).then(
      (bytes) => {
        retire();
        return bytes === UNAVAILABLE || bytes === null ? null : Envelope.fromStored(key, bytes, this.headers);
      },
      () => {
        // `guard` does not reject; should it ever, this key must not stay stuck on a failed read.
        retire();
        return null;
      },
    );
    this.l2Reads.set(key, flight);
    return flight.promise;
  }

  /**
   * Keeps an entry read from Redis in L1, unless its key or one of its tags was invalidated since the read began
   * (`since`, by the invalidation clock): the GET may have left before a DEL, a SET or a tag bump, and what it
   * brought back must not outlive that write in L1 (the reader itself may still use it: it started first).
   */
  private keepRead(key: string, env: Envelope, since: number, now: number): void {
    if (!this.clock.entryChangedSince(since, key, env.header.t)) {
      this.l1.set(key, env, now);
    }
  }

  private judgeSync(env: Envelope, now: number): Judgement | undefined {
    const tags = this.tags.assessLocal(env.header.t, now, env.tagMemo);
    return tags === undefined ? undefined : combine(env, tags, now);
  }

  private async judge(env: Envelope, now: number, budget?: CallBudget): Promise<Judgement> {
    return combine(env, await this.tags.assess(env.header.t, now, budget), now);
  }

  // --- loading -------------------------------------------------------------------------------------------

  private async loadWithFallback<T>(
    ns: string,
    key: string,
    loader: () => Promise<T>,
    policy: CachePolicy,
    fallback: Envelope | null,
    judgement: Judgement,
    budget: CallBudget,
    since: number,
  ): Promise<CacheResult<T>> {
    const hardMs = policy.hardTimeout !== undefined ? toMs(policy.hardTimeout) : this.options.hardTimeoutMs;
    const flight = this.sharedLoad(ns, key, loader, policy, budget, since, hardMs);
    if (!fallback) {
      this.metrics.get(ns, 'none', 'miss');
      const result = await within(flight, hardMs);
      if (result === TIMED_OUT) {
        throw new CacheLoadTimeoutError(key, hardMs);
      }
      return result;
    }
    const softMs =
      policy.softTimeout !== undefined ? toMs(policy.softTimeout) : judgement === 'expired' ? 0 : hardMs;
    try {
      const result = await within(flight, Math.min(softMs, hardMs));
      if (result !== TIMED_OUT) {
        this.metrics.get(ns, 'none', 'miss');
        return result;
      }
    } catch (error) {
      this.log.warn(`Serving stale ${ns} entry: its loader failed (${error instanceof Error ? error.message : String(error)})`);
    }
    this.metrics.get(ns, fallback === this.l1.get(key) ? 'l1' : 'l2', 'stale');
    return { value: fallback.value as T, source: 'stale', envelope: fallback };
  }

  /**
   * The load of `key` this call waits on: the one in progress (stampede protection), unless it started before an
   * invalidation of the key or of its tags — it may have read the database before a write that had completed
   * when this call began (`since`), so this call loads again. Tags that depend on the result are known only once
   * it is there: checked then.
   */
  private sharedLoad<T>(ns: string, key: string, loader: () => Promise<T>, policy: CachePolicy, budget: CallBudget, since: number, hardMs: number): Promise<CacheResult<T>> {
    const known = tagsBeforeLoad(policy, ns);
    return this.joinLoad(
      { ns, key, policy, since, hardMs, known },
      () => this.load(ns, key, loader, policy, budget, hardMs, known),
      () => this.sharedLoad(ns, key, loader, policy, budget, since, hardMs),
    ) as Promise<CacheResult<T>>;
  }

  /**
   * `sharedLoad` for any kind of load: joins the load of `key` in progress if this call may (see there), else
   * runs `start`. A joined load whose result carries tags invalidated since it began is replaced by `again()`.
   */
  private joinLoad(
    call: { ns: string; key: string; policy: CachePolicy; since: number; hardMs: number; known: string[] },
    start: () => Promise<CacheResult<unknown>>,
    again: () => Promise<CacheResult<unknown>>,
  ): Promise<CacheResult<unknown>> {
    const { ns, key, policy, since, known } = call;
    const flight = this.loads.run(key, this.clock.now(), start, call.hardMs, (running) =>
      running.since >= since || !this.clock.changedSince(running.since, key, known),
    );
    if (flight.since >= since || typeof policy.tags !== 'function') {
      return flight.promise;
    }
    return flight.promise.then((result) => (this.clock.changedSince(flight.since, key, entryTags(policy, ns, result.value)) ? again() : result));
  }

  /**
   * The missing items of a batch, each as `loadWithFallback` would treat it alone. An item another call is loading
   * (a batch or `getOrSet`) waits on that load; the others are loaded together, in one call of `loadMissing`
   * (loadBatch), which later calls for those keys join. The call waits for the items with nothing stale up to the
   * hard timeout (then `CacheLoadTimeoutError`; a failed load is thrown); an item with an entry in grace up to its
   * soft timeout, then it is stale. An item whose load ends while the call still waits for others takes what the
   * load brought, even past its soft timeout.
   */
  private async loadMany<T>(batch: BatchCall<T>, out: (T | null | undefined)[]): Promise<void> {
    const { keys, full, missing, loadMissing, policy, items, stale, budget, since } = batch;
    const hardMs = policy.hardTimeout !== undefined ? toMs(policy.hardTimeout) : this.options.hardTimeoutMs;
    const own = missing.map((i) => itemPolicy(policy, items, i));
    const known = missing.map((i, j) => tagsBeforeLoad(own[j], keys[i].namespace));
    /** Positions (into `missing`) of the items this call loads itself. */
    const mine: number[] = [];
    let settle!: { resolve: (results: CacheResult<unknown>[]) => void; reject: (error: unknown) => void };
    const loaded = new Promise<CacheResult<unknown>[]>((resolve, reject) => (settle = { resolve, reject }));
    const flights = missing.map((i, j) => {
      const ns = keys[i].namespace;
      const start = () => {
        const slot = mine.push(j) - 1;
        return loaded.then((results) => results[slot]);
      };
      const alone = async () => (await loadMissing([i]))[0];
      return this.joinLoad({ ns, key: full[i], policy: own[j], since, hardMs, known: known[j] }, start, () =>
        this.sharedLoad(ns, full[i], alone, own[j], budget, since, hardMs),
      );
    });
    if (mine.length > 0) {
      const indexes = mine.map((j) => missing[j]);
      this.loadBatch(batch, indexes, mine.map((j) => own[j]), mine.map((j) => known[j]), hardMs).then(settle.resolve, settle.reject);
    }

    const results = new Array<CacheResult<unknown> | undefined>(missing.length);
    const errors = new Array<Error | undefined>(missing.length);
    const required: Promise<unknown>[] = [];
    /** Items with an entry in grace, by how long to wait for them. */
    const patient = new Map<number, Promise<unknown>[]>();
    flights.forEach((flight, j) => {
      // Registered before any wait below: once a wait is over, every load that has ended is in `results`.
      flight.then(
        (result) => (results[j] = result),
        (error: Error) => (errors[j] = error),
      );
      const held = stale?.get(missing[j]);
      if (!held) {
        this.metrics.get(keys[missing[j]].namespace, 'none', 'miss');
        required.push(flight);
        return;
      }
      const softMs = policy.softTimeout !== undefined ? toMs(policy.softTimeout) : held.judgement === 'expired' ? 0 : hardMs;
      const ms = Math.min(softMs, hardMs);
      const group = patient.get(ms);
      if (group) {
        group.push(flight);
      } else {
        patient.set(ms, [flight]);
      }
    });
    const waits: Promise<unknown>[] = [...patient].map(([ms, group]) => within(Promise.allSettled(group), ms));
    if (required.length > 0) {
      waits.push(
        within(Promise.all(required), hardMs).then((answer) => {
          // Loads that ended as the timer fired count as in time.
          const late = answer === TIMED_OUT ? missing.filter((i, j) => !results[j] && !stale?.has(i)) : [];
          if (late.length > 0) {
            throw new CacheLoadTimeoutError(late.length > 1 ? `${full[late[0]]} and ${late.length - 1} more keys` : full[late[0]], hardMs);
          }
        }),
      );
    }
    await Promise.all(waits);

    let failure: Error | undefined;
    missing.forEach((i, j) => {
      const ns = keys[i].namespace;
      const result = results[j];
      const held = stale?.get(i);
      if (result) {
        out[i] = result.value as T;
        if (held) {
          this.metrics.get(ns, 'none', 'miss');
        }
        return;
      }
      // Only an item with an entry in grace gets here: the others' loads have all ended (or the call has thrown).
      failure ??= errors[j];
      out[i] = held!.env.value as T;
      this.metrics.get(ns, held!.env === this.l1.get(full[i]) ? 'l1' : 'l2', 'stale');
    });
    if (failure !== undefined) {
      this.log.warn(`Serving stale ${keys[missing[0]].namespace} entries: their loader failed (${failure instanceof Error ? failure.message : String(failure)})`);
    }
  }

  /**
   * The one call of `loadMissing` for the items of a batch nobody else was loading (`indexes`), as `load` for one
   * key: the tags known before it stamped before it, each value stored under its own key.
   */
  private async loadBatch<T>(
    batch: BatchCall<T>,
    indexes: number[],
    own: CachePolicy[],
    known: string[][],
    hardMs: number,
  ): Promise<CacheResult<unknown>[]> {
    const { keys, full, loadMissing, policy, budget } = batch;
    const ns = keys[indexes[0]].namespace;
    const since = this.clock.now();
    // As in `load`: a write that bumps one of these tags while the batch loads leaves Redis ahead of the stamps.
    const stamped = await this.stampTags([...new Set(known.flat())], this.longestLifetime(policy) + hardMs, budget);
    const started = performance.now();
    let loaded: readonly (T | null | undefined)[];
    try {
      loaded = await loadMissing(indexes);
    } catch (error) {
      this.metrics.load(ns, (performance.now() - started) / 1000, false);
      throw error;
    }
    const took = performance.now() - started;
    this.metrics.load(ns, took / 1000, true);
    return Promise.all(
      indexes.map(async (i, j): Promise<CacheResult<unknown>> => {
        // A load that outlasted the hard timeout may outlive those tag keys: its stamps are taken again.
        const early = took <= hardMs ? stamped.filter(([tag]) => known[j].includes(tag)) : undefined;
        const env = await this.store(keys[i].namespace, full[i], loaded[j], own[j], budget, { since, early, loadedSince: started });
        return { value: env ? env.value : loaded[j], source: 'miss', envelope: env };
      }),
    );
  }

  private async load<T>(
    ns: string,
    key: string,
    loader: () => Promise<T>,
    policy: CachePolicy,
    budget: CallBudget,
    hardMs: number,
    known: string[],
  ): Promise<CacheResult<T>> {
    const lease = policy.lease && this.l2 ? await this.acquireLease(key, policy, budget) : null;
    if (lease && !lease.acquired) {
      const other = await this.awaitOtherLoader(key, lease);
      if (other) {
        return { value: other.value as T, source: 'l2', envelope: other };
      }
    }
    try {
      const since = this.clock.now();
      // The versions of the tags known before the load, taken before it runs: a write that bumps one while the
      // loader reads leaves Redis ahead of these stamps, so the entry reads as invalidated everywhere — even when
      // this instance hears of that bump only after it has stored (the clock check in `store` cannot see it then).
      // Kept alive in Redis for the longest lifetime the entry can get, plus the hard timeout for the load itself.
      const early = await this.stampTags(known, this.longestLifetime(policy) + hardMs, budget);
      const started = performance.now();
      let value: T;
      try {
        value = await loader();
      } catch (error) {
        this.metrics.load(ns, (performance.now() - started) / 1000, false);
        throw error;
      }
      const took = performance.now() - started;
      this.metrics.load(ns, took / 1000, true);
      // A load that outlasted the hard timeout may outlive those tag keys: its stamps are taken again.
      const envelope = await this.store(ns, key, value, policy, budget, { since, early: took <= hardMs ? early : undefined, loadedSince: started });
      return { value: envelope ? (envelope.value as T) : value, source: 'miss', envelope };
    } finally {
      // After the store (same connection, so Redis has the value before the lease goes): a waiter that finds the
      // lease gone finds the value too, or knows there is none to wait for.
      if (lease?.acquired) {
        void this.l2!.releaseLease(lease.key, lease.token);
      }
    }
  }

  private async acquireLease(key: string, policy: CachePolicy, budget: CallBudget) {
    const ttlMs = typeof policy.lease === 'boolean' ? DEFAULT_LEASE_MS : toMs(policy.lease!);
    const lease = leaseKey(key);
    const token = randomUUID();
    const acquired = await this.l2!.acquireLease(lease, token, ttlMs, budget);
    // Redis unreachable: nobody can coordinate, so load here (fail open).
    return { key: lease, token, ttlMs, acquired: acquired === UNAVAILABLE ? true : acquired };
  }

  /**
   * Another instance holds the lease: re-read Redis with backoff until its value lands. Once the lease is gone
   * without a fresh value (the load failed, its result was not cacheable, the lease lapsed), this call takes the
   * lease and loads (null) instead of waiting out the lease's TTL; another waiter that took it first is waited on.
   */
  private async awaitOtherLoader(key: string, lease: { key: string; token: string; ttlMs: number; acquired: boolean }): Promise<Envelope | null> {
    const freshIn = async (): Promise<Envelope | null> => {
      const env = await this.readL2(key);
      return env && (await this.judge(env, Date.now())) === 'fresh' ? env : null;
    };
    const deadline = Date.now() + lease.ttlMs;
    for (let delay = 10; Date.now() < deadline; delay = Math.min(delay * 2, 200)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      const env = await freshIn();
      if (env) {
        return env;
      }
      const taken = await this.l2!.acquireLease(lease.key, lease.token, lease.ttlMs);
      if (taken !== false) {
        lease.acquired = true;
        // The holder may have stored and let go between the read and the SET NX.
        const landed = await freshIn();
        if (landed) {
          lease.acquired = false;
          void this.l2!.releaseLease(lease.key, lease.token);
        }
        return landed;
      }
    }
    return null;
  }

  private async store(ns: string, key: string, value: unknown, policy: CachePolicy, budget: CallBudget, how: StoreHow): Promise<Envelope | null> {
    const { since, publish = false, early, loadedSince } = how;
    // Ops queued from here on are later than this write (see PendingInvalidations.supersede).
    const queuedBefore = this.invalidations.lastQueued;
    if (value === undefined || (value === null && !policy.cacheNull) || policy.unless?.(value)) {
      return null;
    }
    const unfit = notPlainJson(value);
    if (unfit) {
      // A programming error, but the caller still gets its value: the cache never fails a call it can serve.
      this.metrics.refused(ns, unfit.kind);
      this.log.error(
        `Not cached: a ${ns} value holds ${unfit.what} at value${unfit.path}, which would come back from Redis as another value; ` +
          'cache plain JSON data (map entities and dates to plain objects and strings first)',
      );
      return null;
    }
    const ttlMs =
      value === null
        ? typeof policy.cacheNull === 'boolean'
          ? DEFAULT_NULL_TTL_MS
          : toMs(policy.cacheNull!)
        : this.jittered(policy.ttl !== undefined ? toMs(policy.ttl) : this.options.defaultTtlMs, policy.jitter);
    const graceMs = value === null ? 0 : policy.grace !== undefined ? toMs(policy.grace) : this.options.defaultGraceMs;
    const lifetimeMs = Math.min(ttlMs + graceMs, this.options.maxEntryLifetimeMs);
    const tags = entryTags(policy, ns, value);
    const later = early ? tags.filter((tag) => !early.some(([stamped]) => stamped === tag)) : tags;
    const lateStamps = later.length > 0 ? await this.stampTags(later, lifetimeMs, budget, loadedSince) : [];
    if (lateStamps === null || this.clock.changedSince(since, key, tags)) {
      // Invalidated while loading: the value may predate the write. Serve it to this caller, cache nothing.
      return null;
    }
    const now = Date.now();
    const stamps = [...(early ?? []), ...lateStamps];
    const env = Envelope.create(key, value, { createdAt: now, freshUntil: now + ttlMs, staleUntil: now + lifetimeMs }, stamps);
    if (policy.l1 !== false) {
      this.l1.set(key, env, now);
    }
    if (this.l2) {
      // One flush: the SET and the bus message (same connection, so Redis runs it after the SET: a reader woken
      // by it finds the new value). On a cluster the PUBLISH may reach another node first, so it waits.
      const withSet = publish && !this.l2.isCluster;
      const [written, told] = await Promise.all([
        this.l2.set(key, env.stored(compressFrom(policy)), lifetimeMs, budget).then((answer) => {
          // Remembered as soon as Redis has it (not after the PUBLISH: a reconnect may come in between).
          if (publish && answer !== UNAVAILABLE) {
            this.invalidations.remember({ keys: [key] });
          }
          return answer;
        }),
        withSet && this.publish({ k: [key] }, budget),
      ]);
      if (publish && written === UNAVAILABLE) {
        // A write (`set`) that Redis missed: the value before it is still there, and in other instances' L1.
        await this.invalidations.removeOrQueue([key], budget);
      } else if (publish) {
        this.invalidations.supersede(key, queuedBefore);
        if (withSet ? !told : !(await this.publish({ k: [key] }, budget))) {
          // Refused once already (see PendingInvalidations.tell).
          this.invalidations.queue({ kind: 'tell', news: { k: [key] }, tries: 1 });
        }
      }
    }
    this.metrics.l1Bytes = this.l1.bytes;
    this.metrics.l1Entries = this.l1.size;
    return env;
  }

  /**
   * The versions to record for tags of an entry that lives `lifetimeMs`. Tags known locally *and* known to
   * outlive the entry in Redis (from our own earlier stamp) are stamped without a round trip: a bump this instance
   * has not heard of yet leaves Redis ahead of the stamp, so readers see the entry as invalidated. Otherwise Redis
   * is asked (and keeps the tag keys alive): a tag key that had expired would restart at 0 and could never
   * invalidate an entry stamped with a higher local version. For tags stamped after a load (`loadedSince`), null
   * when Redis shows a bump that may have come during it (see TagVersions.stamp).
   */
  private async stampTags(tags: readonly string[], lifetimeMs: number, budget: CallBudget): Promise<TagStamp[]>;
  private async stampTags(tags: readonly string[], lifetimeMs: number, budget: CallBudget, loadedSince: number | undefined): Promise<TagStamp[] | null>;
  private async stampTags(tags: readonly string[], lifetimeMs: number, budget: CallBudget, loadedSince?: number): Promise<TagStamp[] | null> {
    const local = this.l2 ? this.tags.localStamps(tags, Date.now(), lifetimeMs) : undefined;
    return local?.alive ? local.stamps : this.tags.stamp(tags, lifetimeMs, budget, loadedSince);
  }

  /** The longest an entry stored under `policy` can live in Redis (TTL at the top of its jitter, plus grace). */
  private longestLifetime(policy: CachePolicy): number {
    const ttlMs = policy.ttl !== undefined ? toMs(policy.ttl) : this.options.defaultTtlMs;
    const graceMs = policy.grace !== undefined ? toMs(policy.grace) : this.options.defaultGraceMs;
    return Math.min(Math.ceil(ttlMs * (1 + (policy.jitter ?? this.options.jitter))) + graceMs, this.options.maxEntryLifetimeMs);
  }

  private jittered(ttlMs: number, jitter = this.options.jitter): number {
    return Math.max(1, Math.round(ttlMs * (1 + jitter * (Math.random() * 2 - 1))));
  }

  // --- invalidating -------------------------------------------------------------------------------------

  private async expireInL2(keys: string[], now: number, budget: CallBudget) {
    return this.l2!.guard('EXPIRE-ENTRY', async (c) => {
      for (const key of keys) {
        const bytes = await c.getBuffer(key);
        const env = bytes ? Envelope.fromStored(key, bytes, this.headers) : null;
        if (env) {
          // Stored as it was: compressed again if it was compressed.
          await c.set(key, env.expired(now).stored(env.isCompressed ? 0 : null), 'KEEPTTL', 'XX');
        }
      }
    }, budget);
  }

  /** A bus message; true when there is no bus to tell. */
  private publish(message: Parameters<CacheBus['publish']>[0], budget?: CallBudget): Promise<boolean> {
    return this.bus ? this.bus.publish(message, budget) : Promise.resolve(true);
  }

  private forgetLocalState(reason: string): void {
    this.clock.everythingInvalidated();
    this.l1.clear();
    this.tags.clear();
    this.logger.warn(`Cleared L1: ${reason}`);
    void this.invalidations.replayPending();
  }
}

/** The tags of an entry of `ns` known before its value is: all of them but those a tags function gives. */
function tagsBeforeLoad(policy: CachePolicy, ns: string): string[] {
  const fixed = typeof policy.tags === 'function' ? [] : (policy.tags ?? []);
  return [...new Set([...(policy.tagsBefore ?? []), ...fixed, namespaceTag(ns)])];
}

/** The tags an entry of `ns` carries: the policy's own (of the value, when a function) and the namespace's. */
function entryTags(policy: CachePolicy, ns: string, value: unknown): string[] {
  const own = typeof policy.tags === 'function' ? policy.tags(value) : (policy.tags ?? []);
  return [...new Set([...(policy.tagsBefore ?? []), ...own, namespaceTag(ns)])];
}

/** The policy of one item of a batch: the batch's tags, plus the item's own. */
function itemPolicy<T>(policy: CachePolicy, items: BatchItemTags<T>, index: number): CachePolicy {
  const { tags, tagsBefore } = items;
  if (!tags && !tagsBefore) {
    return policy;
  }
  const common = policy.tags;
  return {
    ...policy,
    tagsBefore: tagsBefore ? [...(policy.tagsBefore ?? []), ...tagsBefore(index)] : policy.tagsBefore,
    tags: tags ? (value) => [...(typeof common === 'function' ? common(value) : (common ?? [])), ...tags(value as T, index)] : common,
  };
}

/** An entry past fresh that may still answer (see loadWithFallback). */
interface Fallback {
  env: Envelope;
  judgement: Judgement;
}

/** What `getMany` hands on to loadMany and loadBatch. */
interface BatchCall<T> {
  keys: readonly CacheKey[];
  full: string[];
  /** Indexes of the items neither tier had fresh. */
  missing: number[];
  loadMissing: (indexes: number[]) => Promise<readonly (T | null | undefined)[]>;
  policy: CachePolicy;
  items: BatchItemTags<T>;
  stale: Map<number, Fallback> | undefined;
  budget: CallBudget;
  since: number;
}

/** How `store` writes an entry. */
interface StoreHow {
  /** The invalidation clock when the value was read: an invalidation since then (heard here) stores nothing. */
  since: number;
  /** Tell other instances to drop their L1 copies (a write, `set`; a first store has nothing to replace). */
  publish?: boolean;
  /** Stamps of the tags known before the load, taken before it. */
  early?: TagStamp[];
  /** `performance.now()` when the load began: the tags stamped after it must not have moved since. */
  loadedSince?: number;
}

/** A GET in flight (see readL2): when it was sent, by the invalidation clock, and its answer. */
interface L2Read {
  since: number;
  promise: Promise<Envelope | null>;
}

const NO_ENVELOPE: Promise<Envelope | null> = Promise.resolve(null);

function combine(env: Envelope, tags: Freshness, now: number): Judgement {
  if (tags === 'hard' || now >= env.header.s) {
    return 'unusable';
  }
  if (tags === 'soft' || env.header.x === 1) {
    return 'invalidated';
  }
  return now < env.header.f ? 'fresh' : 'expired';
}

/** Entries at least this large are compressed in Redis under `compress: true`. */
const DEFAULT_COMPRESS_FROM = 1_024;

function compressFrom(policy: CachePolicy): number | null {
  const { compress } = policy;
  return compress === true ? DEFAULT_COMPRESS_FROM : typeof compress === 'number' ? compress : null;
}
