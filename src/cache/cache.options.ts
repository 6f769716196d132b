import type { Duration } from './core/duration';

export interface RedisNode {
  host: string;
  port: number;
}

/** One of: a URL (standalone, `rediss://` for TLS, `redis://user:pass@host`), a Sentinel group, or a Cluster. */
export interface RedisConnectionOptions {
  url?: string;
  sentinel?: {
    sentinels: RedisNode[];
    name: string;
    username?: string;
    password?: string;
    sentinelPassword?: string;
    tls?: boolean;
  };
  cluster?: { nodes: RedisNode[]; username?: string; password?: string; tls?: boolean };
  /**
   * Wraps or replaces the clients the cache creates (one for commands, one for the bus): instrumentation, a
   * pre-configured client, fault injection in tests. `build` makes the default one.
   */
  createClient?: (role: 'commands' | 'bus', build: () => import('./redis/redis-clients').RedisClient) => import('./redis/redis-clients').RedisClient;
}

export interface CacheModuleOptions {
  /** The app's name: first part of every key and of the bus channel. */
  prefix: string;
  /** false: decorated methods run undecorated and nothing is cached (measurement, emergencies). Default true. */
  enabled?: boolean;
  /** Bump to abandon every entry written by an older version of the code at once. Default 1. */
  schemaVersion?: number;
  /** Omit (or null) to run on L1 alone. */
  redis?: RedisConnectionOptions | null;
  /** How long any Redis command may take before the cache gives up on it. Default 200 ms. */
  commandTimeoutMs?: number;
  /** L1 capacity in bytes of memory (entries, parsed values and bookkeeping: see README). Default 64 MB. 0 disables L1. */
  l1MaxBytes?: number;
  /** Defaults for policies that do not say. */
  defaultTtl?: Duration;
  defaultGrace?: Duration;
  /** ± fraction applied to every TTL so entries written together do not expire together. Default 0.1. */
  jitter?: number;
  /**
   * Cap on TTL + grace of any entry; tag keys are kept at least this long, and a tag version known in process is
   * forgotten once unused for this long. Default 7 days.
   */
  maxEntryLifetime?: Duration;
  /** How long a loader may run before callers stop waiting (and get the stale entry, if any). Default 10 s. */
  hardTimeout?: Duration;
  /** While the bus is down, how long a locally known tag version is trusted before Redis is asked again. */
  tagRecheckInterval?: Duration;
  /**
   * How often the bus connection is checked with a PING (a connection whose peer vanished silently delivers
   * nothing, and TCP may take hours to say so). Default 5 s.
   */
  busHeartbeat?: Duration;
  breaker?: { failureThreshold?: number; openMs?: number };
  /** Same message at most once per this interval in the logs. Default 30 s. */
  logInterval?: Duration;
  /** Invalidations that could not reach Redis are replayed when it is back; at most this many are kept. */
  maxPendingInvalidations?: number;
  /**
   * When the connection to Redis is lost and comes back, the invalidations this instance made in this long before
   * it was lost are made again: Redis may have lost them (a failover to a replica they had not reached, a restart
   * from an append-only file). Default 10 s; 0 turns it off. See "Redis loses its last writes" in the README.
   */
  redoWindow?: Duration;
}

export interface ResolvedCacheOptions {
  keyPrefix: string;
  busChannel: string;
  redis: RedisConnectionOptions | null;
  commandTimeoutMs: number;
  l1MaxBytes: number;
  defaultTtlMs: number;
  defaultGraceMs: number;
  jitter: number;
  maxEntryLifetimeMs: number;
  hardTimeoutMs: number;
  tagRecheckMs: number;
  busHeartbeatMs: number;
  breaker: { failureThreshold: number; openMs: number };
  logIntervalMs: number;
  maxPendingInvalidations: number;
  redoWindowMs: number;
}
