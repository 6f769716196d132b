import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import type { RedisConnectionOptions, RedisNode } from '../cache.options';

export type RedisClient = Redis | Cluster;

export const isClusterClient = (client: RedisClient): client is Cluster => 'isCluster' in client && client.isCluster;

/**
 * Settings that keep a sick Redis from ever stalling a request:
 * - no offline queue and no per-request retries: a command on a broken connection fails at once;
 * - a command timeout, so a frozen server costs at most that long;
 * - no re-sending of unfulfilled commands after a reconnect, so a SET that timed out cannot land after a
 *   later DEL (ioredis #2130);
 * - reconnect forever with capped exponential backoff, so recovery needs no restart;
 * - reconnect when a write is refused with READONLY: the server was demoted to a replica (a managed Redis that
 *   failed over and moved its endpoint, a master that came back as a replica), and only a new connection
 *   reaches the new master. Until then every invalidation would be refused, and fills too;
 * - no auto-pipelining: it holds every command back to batch it with the next ones, which cost a sequential L2
 *   hit ~70 µs (135 µs against 63 µs in the micro-benchmark) and bought nothing under load (the Zipf load run
 *   measured the same req/s without it). Concurrent commands still share the socket without waiting for replies.
 */
function resilientOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: false,
    connectTimeout: Math.max(1_000, commandTimeoutMs * 5),
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), 2_000),
    reconnectOnError: readOnlyReconnects(),
    lazyConnect: false,
  };
}

/**
 * A write sent to a replica: `READONLY You can't write against a read only replica.` (a script's too; before
 * Redis 7, a script's error carries it after `-`).
 */
export function isReadOnly(error: unknown): boolean {
  return error instanceof Error && /^READONLY |-READONLY /.test(error.message);
}

/** Never more often than this: an endpoint that still leads to the replica (a DNS cache) would refuse again. */
const READONLY_RECONNECT_MS = 2_000;

/**
 * ioredis' `reconnectOnError` for one client: 1 (reconnect, and fail the refused command, which the cache queues
 * and redoes on `ready`) on READONLY, at most once every READONLY_RECONNECT_MS.
 */
export function readOnlyReconnects(): (error: Error) => 1 | false {
  let last = -Infinity;
  return (error) => {
    if (!isReadOnly(error) || performance.now() - last < READONLY_RECONNECT_MS) {
      return false;
    }
    last = performance.now();
    return 1;
  };
}

/**
 * A client for commands (`role: 'commands'`), for the bus subscription (`'bus'`), or for another part of the app
 * on the same Redis (`'health'`, the health sampler; `'limits'`, rate limits): same settings as commands, a
 * connection of its own so its commands never queue behind cache traffic.
 */
export function createRedisClient(
  config: RedisConnectionOptions,
  commandTimeoutMs: number,
  role: 'commands' | 'bus' | 'health' | 'limits',
): RedisClient {
  const base = resilientOptions(commandTimeoutMs);
  // A subscriber sends almost nothing; its commands (SUBSCRIBE) must not be refused while it reconnects.
  // (`CacheBus` subscribes by itself on every ready and turns ioredis' own re-subscription off.)
  // The cache's commands are bounded by RedisTier.guard, with one timer for all of them: ioredis' own timeout
  // would add a timer per command (see SharedTimeout). The health sampler and the rate limits keep ioredis'.
  const options: RedisOptions =
    role === 'bus' ? { ...base, enableOfflineQueue: true, commandTimeout: undefined, enableAutoPipelining: false }
    : role === 'commands' ? { ...base, commandTimeout: undefined }
    : base;
  const name = `cache-${role}`;
  if (config.cluster) {
    const { nodes, username, password, tls } = config.cluster;
    const auth = { username, password, connectionName: name, ...(tls ? { tls: {} } : {}) };
    if (role === 'bus') {
      return busOnAnyNode(nodes, { ...options, ...auth });
    }
    const clusterOptions: ClusterOptions = {
      // On: ioredis sends its own ready check (CLUSTER INFO) before the node connections are up, and without a
      // queue rejects it, reconnects and backs off; on a busy host that kept a client un-ready for seconds. The
      // cache's commands never wait in this queue: `RedisTier.guard` refuses them until the cluster is ready.
      enableOfflineQueue: true,
      enableAutoPipelining: options.enableAutoPipelining,
      clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 10), 2_000),
      // ioredis documents 5 s as the default but sets none (5.11): the client then refreshes its slots only when
      // a command meets MOVED or a closed connection, and a shard's failover can go unseen (see `watchShards`)
      // while this instance sends nothing there. Each refresh opens a short-lived connection for CLUSTER SLOTS:
      // the cache's own commands client only.
      ...(role === 'commands' ? { slotsRefreshInterval: 5_000 } : {}),
      redisOptions: { ...options, ...auth },
    };
    return new Cluster(nodes, clusterOptions);
  }
  if (config.sentinel) {
    const { sentinels, name: group, username, password, sentinelPassword, tls } = config.sentinel;
    return new Redis({
      ...options,
      sentinels,
      name: group,
      username,
      password,
      sentinelPassword,
      // Follow Sentinel's +switch-master at once. Without it a client stays on the old master until that one is
      // told to step down (Sentinel's next look, up to 10 s): writes land where nobody reads, and a bus message
      // published there reaches no instance that has already moved.
      failoverDetector: true,
      connectionName: name,
      ...(tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    });
  }
  // `rediss://` turns on TLS; user and password come from the URL.
  return new Redis(config.url!, { ...options, connectionName: name });
}

/**
 * A cluster client stays connected while one of its shards fails over: no `close`, no `ready`. `failedOver` is
 * called when a slot refresh shows a slot served by a new master that was its replica before, or whose old
 * master is gone from the cluster (not for slots that merely migrate between masters), with the time
 * (performance.now()) the connection to a master first closed since the last call, if one did: how far back
 * invalidations may have been lost.
 */
export function watchShards(cluster: Cluster, failedOver: (masterLostAt: number | undefined) => void): void {
  let slots: string[][] | null = null;
  let masters = new Set<string>();
  let lostAt: number | undefined;
  cluster.on('+node', (node: Redis) => {
    const key = `${node.options.host}:${node.options.port}`;
    node.on('close', () => {
      if (cluster.status === 'ready' && masters.has(key)) {
        lostAt ??= performance.now();
      }
    });
  });
  cluster.on('refresh', () => {
    const before = slots;
    slots = cluster.slots.map((nodes) => [...nodes]);
    const nodes = new Set(slots.flat());
    masters = new Set(slots.map(([master]) => master));
    const promoted =
      before !== null &&
      slots.some(([master], slot) => {
        const [was, ...replicas] = before[slot] ?? [];
        return master !== was && (replicas.includes(master) || (was !== undefined && !nodes.has(was)));
      });
    if (promoted) {
      const at = lostAt;
      lostAt = undefined;
      failedOver(at);
    }
  });
}

/**
 * The bus of a cluster: one plain connection to any node, since a classic PUBLISH reaches every node. Not a
 * Cluster client: its internal subscriber moves to another node and re-subscribes without emitting close/ready,
 * so the bus could never learn that messages were lost meanwhile (and would keep a stale L1). Each reconnect
 * tries the next seed node.
 */
function busOnAnyNode(nodes: RedisNode[], options: RedisOptions): Redis {
  let next = 0;
  const client: Redis = new Redis({
    ...options,
    host: nodes[0].host,
    port: nodes[0].port,
    retryStrategy: (attempt) => {
      next = (next + 1) % nodes.length;
      // ioredis reads host and port from its options on every (re)connect.
      Object.assign(client.options, { host: nodes[next].host, port: nodes[next].port });
      return options.retryStrategy!(attempt);
    },
  });
  return client;
}

/**
 * Drops a client's connection at once; it reconnects by itself (its retry strategy). For a connection whose
 * peer went silent: `disconnect(true)` would first send a FIN and wait up to 2 s for an answer that never comes.
 * A cluster client reconnects as a whole.
 */
export function dropConnection(client: RedisClient): void {
  if (client instanceof Cluster) {
    client.disconnect(true);
  } else {
    client.stream?.destroy();
  }
}

/**
 * Closes a client the polite way (QUIT: replies to commands already sent still arrive), then releases everything
 * it holds, and resolves once its connection has really closed — each step bounded by `timeoutMs`.
 * - `quit()` resolves on QUIT's reply, before the socket has closed: waiting for `end` makes "Redis closed" true
 *   when this returns, so whatever the app closes next (PostgreSQL) really closes after it.
 * - The final `disconnect()` matters behind Sentinel: `quit()` leaves the failover detector's subscriptions to
 *   the sentinels open, which keeps the process alive (ioredis #1362).
 */
export async function closeRedisClient(client: RedisClient, timeoutMs = 1_000): Promise<void> {
  if (client.status === 'end') {
    // Closed already, by an earlier call. Another `disconnect()` would arm ioredis' disconnectTimeout (2 s) that
    // only a `close` of the (long closed) socket clears: the process waited for it at every exit.
    return;
  }
  // A client between connections (reconnecting, closed) has no socket left to wait for: it never emits `end`.
  const live = ['connecting', 'connect', 'ready'].includes(client.status);
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const bounded = (work: Promise<unknown>) =>
    Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]).finally(() =>
      clearTimeout(timer),
    );
  try {
    await bounded(client.quit());
  } catch {
    // Already closed or never connected: nothing to say goodbye to.
  } finally {
    client.disconnect();
  }
  // Read again: the status has moved on since the check above (TypeScript keeps that narrowing across awaits).
  if (live && (client.status as string) !== 'end') {
    await bounded(ended);
  }
}
