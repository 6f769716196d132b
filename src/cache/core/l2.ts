import { createHash, randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { dropConnection, isClusterClient, isReadOnly, type RedisClient } from '../redis/redis-clients';
import type { CacheMetrics, RedisErrorKind } from './cache-metrics';
import { CircuitBreaker } from './circuit-breaker';
import { SharedTimeout, TIMED_OUT } from './single-flight';
import type { RateLimitedLogger } from './rate-limited-logger';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;

/** Returned instead of throwing when Redis could not answer: the cache carries on without it. */
export const UNAVAILABLE = Symbol('redis-unavailable');
export type Maybe<T> = T | typeof UNAVAILABLE;

/**
 * Redis at `maxmemory` with nothing it may evict (`noeviction`, or a volatile-* policy and no key with a TTL left)
 * refuses every command that may add memory (SET, HSET, a script that writes) with `-OOM …`, and still takes
 * reads, DEL and PUBLISH. A write that invalidates must then remove instead, or the old value stays for its TTL.
 */
function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('OOM ');
}

/*
 * A tag key can vanish while entries stamped with its versions live on: Redis evicts it under `maxmemory`
 * (allkeys-lru keeps the entries it reads and drops the idle tag key), a FLUSHALL, a failover to an empty
 * replica, or it expires. Created again from 0, its next bump would reach only versions already stamped into
 * those entries, and invalidate none of them. So a tag key starts at Redis' clock in microseconds, above every
 * version an earlier key of the same tag can have reached (one per bump, and a bump takes more than a
 * microsecond), with `h` there too: an entry stamped before the key was lost counts as removed, since a write
 * may have happened meanwhile that nobody could record (`o` keeps the origin: `v - o` bumps since). The key also
 * records its incarnation `i`: versions of two incarnations do not compare (see TagVersions.learn). Needs Redis 5
 * or later (TIME in a script that writes).
 */
const CREATE_TAG = `
local function micros()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2]))
end
local function create(key, incarnation)
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSETNX', key, 'i', incarnation)
    return
  end
  local origin = micros()
  redis.call('HSET', key, 'v', origin, 'h', origin, 'o', origin, 'i', incarnation)
end`;

/**
 * Bumps a tag: `v` always; `h` (the last hard invalidation) too when ARGV[1] = 1; `b`, when it happened (Redis'
 * clock, µs: see STAMP_TAG). Keeps the key alive.
 */
const BUMP_TAG = `${CREATE_TAG}
create(KEYS[1], ARGV[3])
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'b', micros())
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'h', v) end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local r = redis.call('HMGET', KEYS[1], 'h', 'i')
return {v, tonumber(r[1] or '0'), r[2]}`;

/**
 * Reads a tag for an entry about to be written, and makes sure the tag outlives that entry. Also returns when the
 * tag was last bumped and what time it is, both by Redis' clock (µs, as strings): the caller tells from them,
 * with its own measure of how long ago its load began, whether the bump may have come during the load. A key
 * created here was never bumped (no `b`).
 */
const STAMP_TAG = `${CREATE_TAG}
create(KEYS[1], ARGV[3])
local pttl = redis.call('PTTL', KEYS[1])
if pttl < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  pttl = tonumber(ARGV[2])
end
local r = redis.call('HMGET', KEYS[1], 'v', 'h', 'i', 'b')
return {tonumber(r[1] or '0'), tonumber(r[2] or '0'), pttl, r[3], r[4], micros()}`;

/** Deletes a lease only if it still holds our token. */
const RELEASE_LEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A Lua script sent by its SHA-1 (EVALSHA), and in full only to a server that does not know it yet (NOSCRIPT: a
 * new or restarted server, another cluster node): Redis neither receives nor hashes the body on every call.
 */
class LuaScript {
  private readonly sha: string;

  constructor(private readonly body: string) {
    this.sha = createHash('sha1').update(body).digest('hex');
  }

  async run(c: RedisClient, key: string, ...args: (string | Buffer)[]): Promise<unknown> {
    try {
      return await c.evalsha(this.sha, 1, key, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return c.eval(this.body, 1, key, ...args);
      }
      throw error;
    }
  }
}

const scripts = {
  bumpTag: new LuaScript(BUMP_TAG),
  stampTag: new LuaScript(STAMP_TAG),
  releaseLease: new LuaScript(RELEASE_LEASE),
};

/** Keys per MGET that `get` batches (a larger batch goes as several). */
const MAX_BATCHED_READS = 100;

interface BatchedRead {
  key: string;
  budget: CallBudget | undefined;
  resolve: (bytes: Maybe<Buffer | null>) => void;
}

/** See RedisTier.guard. */
export interface CallBudget {
  failed: boolean;
  /** Redis answered that it is out of memory (see `isOutOfMemory`): it still takes a DEL. */
  outOfMemory?: boolean;
}

export const newBudget = (): CallBudget => ({ failed: false });

export interface TagState {
  v: number;
  h: number;
  /** The tag key's incarnation (unknown for keys written before incarnations, or without Redis). */
  i?: string;
}

/** A tag as a stamp finds it in Redis. */
export interface StampedTag extends TagState {
  /** How long the tag key lives yet (ms). */
  ttl: number;
  /** How long before the stamp the tag was last bumped (µs, Redis' clock); undefined if never (or not recorded). */
  bumpedAgoUs?: number;
}

/** A new incarnation id, used only if the script creates the tag key. */
const incarnation = (): string => randomUUID().slice(0, 8);

function classify(error: unknown): RedisErrorKind {
  if (isOutOfMemory(error)) {
    return 'oom';
  }
  if (isReadOnly(error)) {
    return 'readonly';
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/timed? ?out/i.test(message)) {
    return 'timeout';
  }
  if (/writeable|connect|closed|ECONN|EPIPE|ENOTFOUND|Connection|ready/i.test(message)) {
    return 'connection';
  }
  return 'command';
}

/**
 * Redis as the second tier. Every command goes through `guard`: skipped while the breaker is open, bounded by the
 * client's command timeout, counted and logged (rate-limited) when it fails — and never thrown to the caller.
 */
export class RedisTier {
  readonly breaker: CircuitBreaker;
  /** GETs and MGETs sent by `get` and not yet answered. */
  private readsOut = 0;
  /** Reads `get` holds for the MGET at the end of this turn of the event loop. */
  private batch: BatchedRead[] = [];
  /** Commands that timed out since the last one that succeeded, and when one last succeeded (see `stuck`). */
  private timeoutsInARow = 0;
  private answeredAt = performance.now();
  /** When Redis last answered a command (performance.now()); unlike `answeredAt`, never moved by `stuck`. */
  lastAnswerAt = performance.now();
  /** A write was refused with READONLY since the connection was made (see createRedisClient, `lostSince`). */
  private refusedReadOnly = false;
  /** How long every command may time out before the connection is taken for dead and replaced. */
  private readonly stuckMs: number;
  /** Bounds every command (one timer for all of them). */
  private readonly timeout: SharedTimeout;

  constructor(
    readonly client: RedisClient,
    private readonly metrics: CacheMetrics,
    private readonly log: RateLimitedLogger,
    private readonly breakerOptions: { failureThreshold: number; openMs: number },
    private readonly timeoutMs: number,
    onBreakerChange: (state: 'closed' | 'open' | 'half-open') => void,
  ) {
    this.stuckMs = Math.max(1_000, 10 * timeoutMs);
    this.timeout = new SharedTimeout(timeoutMs);
    this.breaker = new CircuitBreaker(breakerOptions, (state) => {
      metrics.breakerState = state;
      onBreakerChange(state);
    });
  }

  /**
   * `budget` is shared by the Redis commands of one cache call: once one of them fails, the rest are skipped,
   * so a call pays the command timeout at most once however many commands it would have sent.
   */
  async guard<T>(command: string, run: (client: RedisClient) => Promise<T>, budget?: CallBudget): Promise<Maybe<T>> {
    if (budget?.failed) {
      return UNAVAILABLE;
    }
    if (!this.breaker.allow()) {
      this.metrics.redisError('skipped');
      return UNAVAILABLE;
    }
    const started = performance.now();
    try {
      if (this.client.status !== 'ready') {
        // Fail at once rather than wait in a queue (a Cluster client keeps one; see createRedisClient).
        throw new Error(`Redis connection is ${this.client.status}`);
      }
      // The command timeout: the commands client has none of its own (see createRedisClient), and a client
      // `createClient` made may have any.
      const result = await this.timeout.within(run(this.client));
      if (result === TIMED_OUT) {
        throw new Error(`${command} timed out after ${this.timeoutMs} ms`);
      }
      this.breaker.success();
      this.timeoutsInARow = 0;
      this.lastAnswerAt = this.answeredAt = performance.now();
      this.metrics.redisUp = true;
      this.metrics.redisCommand((performance.now() - started) / 1000);
      return result;
    } catch (error) {
      const kind = classify(error);
      if (budget) {
        budget.failed = true;
        budget.outOfMemory ||= kind === 'oom';
      }
      if (kind === 'command' || kind === 'oom' || kind === 'readonly') {
        // Redis answered (NOPERM, WRONGTYPE, a script error, OOM, READONLY): it is there, so this is no reason to
        // skip it. After READONLY the client is already reconnecting (see createRedisClient).
        this.refusedReadOnly ||= kind === 'readonly';
        this.breaker.success();
        this.timeoutsInARow = 0;
        this.lastAnswerAt = this.answeredAt = performance.now();
      } else {
        this.breaker.failure();
      }
      this.metrics.redisError(kind);
      this.log.warn(`Redis ${command} failed (${kind}): ${error instanceof Error ? error.message : String(error)}`);
      if (kind === 'timeout') {
        this.stuck();
      }
      return UNAVAILABLE;
    }
  }

  /**
   * A command timed out. A connection whose peer vanished without a word (a host gone, a NAT entry dropped)
   * stays open on this side, and ioredis only reconnects when the socket closes — which TCP may take hours to
   * notice: every command, and every probe of the breaker, would time out until then. So once commands have
   * done nothing but time out for `stuckMs` (the breaker opened and its probes timed out too), the connection is
   * dropped and a new one made. A server that is only slow costs a reconnect at most every `stuckMs`.
   */
  private stuck(): void {
    const now = performance.now();
    if (++this.timeoutsInARow > this.breakerOptions.failureThreshold && now - this.answeredAt >= this.stuckMs) {
      this.log.warn(`Redis has answered nothing for ${Math.round(now - this.answeredAt)} ms: reconnecting`);
      this.timeoutsInARow = 0;
      this.answeredAt = now;
      this.metrics.redisError('stuck');
      dropConnection(this.client);
    }
  }

  /**
   * The connection closed: the time Redis may have lost writes since, for a redo to reach back from. Its last
   * answer, or, if it refused a write with READONLY, the last write that reached it (`lastWriteAt`, if earlier):
   * it was demoted some time after that, and the reads it answered since say nothing about when.
   */
  lostSince(lastWriteAt: number): number {
    const at = this.refusedReadOnly ? Math.min(this.lastAnswerAt, lastWriteAt) : this.lastAnswerAt;
    this.refusedReadOnly = false;
    return at;
  }

  /** On a cluster, commands sent together may reach different nodes: their order is not Redis' order. */
  get isCluster(): boolean {
    return isClusterClient(this.client);
  }

  /**
   * One entry's bytes. When no other read is out, a GET goes now; while reads are out (the server is busy), the
   * keys asked for in this turn of the event loop go together, as one MGET at its end (slot-grouped on a
   * cluster): one write, one reply and one timer for a batch of readers instead of one each. A read alone on
   * an idle server never waits for a batch; under load, a read waits at most for the current turn to finish,
   * which it would wait for anyway before its GET could be written.
   */
  get(key: string, budget?: CallBudget): Promise<Maybe<Buffer | null>> {
    if (this.readsOut === 0 || budget?.failed) {
      return this.getNow(key, budget);
    }
    if (this.batch.length === 0) {
      setImmediate(this.flushBatch);
    }
    return new Promise((resolve) => this.batch.push({ key, budget, resolve }));
  }

  private getNow(key: string, budget?: CallBudget): Promise<Maybe<Buffer | null>> {
    this.readsOut++;
    return this.guard('GET', (c) => c.getBuffer(key), budget).then((bytes) => {
      this.readsOut--;
      return bytes;
    });
  }

  private readonly flushBatch = (): void => {
    const batch = this.batch;
    this.batch = [];
    for (let start = 0; start < batch.length; start += MAX_BATCHED_READS) {
      const part = batch.slice(start, start + MAX_BATCHED_READS);
      if (part.length === 1) {
        void this.getNow(part[0].key, part[0].budget).then(part[0].resolve);
        continue;
      }
      this.readsOut++;
      void this.mget(part.map((read) => read.key)).then((values) => {
        this.readsOut--;
        part.forEach((read, i) => {
          if (values === UNAVAILABLE && read.budget) {
            read.budget.failed = true;
          }
          read.resolve(values === UNAVAILABLE ? UNAVAILABLE : values[i]);
        });
      });
    }
  };

  ping(): Promise<Maybe<string>> {
    return this.guard('PING', (c) => c.ping());
  }

  /** Keys are grouped by hash slot on a cluster (one MGET per slot); ioredis pipelines them per node. */
  mget(keys: string[], budget?: CallBudget): Promise<Maybe<(Buffer | null)[]>> {
    return this.guard('MGET', async (c) => {
      if (keys.length === 0) {
        return [];
      }
      if (!('isCluster' in c && c.isCluster)) {
        return (c as Redis).mgetBuffer(...keys);
      }
      const bySlot = new Map<number, number[]>();
      keys.forEach((key, i) => {
        const slot = calculateSlot(key);
        const indexes = bySlot.get(slot);
        if (indexes) {
          indexes.push(i);
        } else {
          bySlot.set(slot, [i]);
        }
      });
      const out = new Array<Buffer | null>(keys.length).fill(null);
      await Promise.all(
        [...bySlot.values()].map(async (indexes) => {
          const values = await c.mgetBuffer(...indexes.map((i) => keys[i]));
          indexes.forEach((index, j) => (out[index] = values[j]));
        }),
      );
      return out;
    }, budget);
  }

  set(key: string, bytes: Buffer, ttlMs: number, budget?: CallBudget): Promise<Maybe<unknown>> {
    return this.guard('SET', (c) => c.set(key, bytes, 'PX', Math.max(1, Math.ceil(ttlMs))), budget);
  }

  /** One DEL per key (sent together, without waiting for each other): safe on a cluster whatever slots the keys hash to. */
  del(keys: string[], budget?: CallBudget): Promise<Maybe<number>> {
    return this.guard('DEL', async (c) => (await Promise.all(keys.map((k) => c.del(k)))).reduce((a, b) => a + b, 0), budget);
  }

  /** Each tag's state, or null when its key is not in Redis (lost: see CREATE_TAG). */
  readTags(tagKeys: string[], budget?: CallBudget): Promise<Maybe<(TagState | null)[]>> {
    return this.guard('HMGET', (c) =>
      Promise.all(
        tagKeys.map(async (k) => {
          const [v, h, i] = await c.hmget(k, 'v', 'h', 'i');
          return v === null ? null : { v: Number(v), h: Number(h ?? 0), i: i ?? undefined };
        }),
      ),
      budget,
    );
  }

  /** Reads tags and keeps each alive for at least `lifetimeMs` (extending it to `extendMs`); `ttl` is what is left. */
  stampTags(tagKeys: string[], lifetimeMs: number, extendMs: number, budget?: CallBudget): Promise<Maybe<StampedTag[]>> {
    return this.guard('EVALSHA', (c) =>
      Promise.all(
        tagKeys.map(async (k) => {
          const args = [String(Math.ceil(lifetimeMs)), String(Math.ceil(Math.max(lifetimeMs, extendMs))), incarnation()];
          const [v, h, ttl, i, bumped, now] = (await scripts.stampTag.run(c, k, ...args)) as [number, number, number, string, string | null, string];
          // Both µs since the epoch (~2^51): exact in a double.
          const bumpedAgoUs = bumped ? Number(now) - Number(bumped) : undefined;
          return { v, h, i, ttl: ttl < 0 ? Infinity : ttl, bumpedAgoUs };
        }),
      ),
      budget,
    );
  }

  bumpTags(tagKeys: string[], hard: boolean, lifetimeMs: number, budget?: CallBudget): Promise<Maybe<TagState[]>> {
    return this.guard('EVALSHA', (c) =>
      Promise.all(
        tagKeys.map(async (k) => {
          const args = [hard ? '1' : '0', String(Math.ceil(lifetimeMs)), incarnation()];
          const [v, h, i] = (await scripts.bumpTag.run(c, k, ...args)) as [number, number, string];
          return { v, h, i };
        }),
      ),
      budget,
    );
  }

  acquireLease(key: string, token: string, ttlMs: number, budget?: CallBudget): Promise<Maybe<boolean>> {
    return this.guard('SET NX', async (c) => (await c.set(key, token, 'PX', ttlMs, 'NX')) === 'OK', budget);
  }

  releaseLease(key: string, token: string): Promise<Maybe<unknown>> {
    return this.guard('EVALSHA', (c) => scripts.releaseLease.run(c, key, token));
  }

  publish(channel: string, message: string, budget?: CallBudget): Promise<Maybe<number>> {
    return this.guard('PUBLISH', (c) => c.publish(channel, message), budget);
  }
}
