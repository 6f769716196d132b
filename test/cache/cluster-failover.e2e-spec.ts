import calculateSlot from 'cluster-key-slot';
import { CacheService, cacheKey } from '../../src/cache';
import type { CacheModuleOptions } from '../../src/cache';
import { OwnRedisCluster } from '../support/redis-cluster';
import { replicaCaughtUp } from '../support/redis-server';
import { cacheInstance, eventually, tagKeyOf, versionedReader } from './support';

/**
 * One shard of a Redis Cluster fails over: its master dies and its replica takes over, without the writes that had
 * not reached it yet (replication is asynchronous). The cluster client stays connected to the other masters, so
 * nothing closes and opens again as it does on a single Redis: the cache must notice the new master itself.
 */
describe('cache on a Redis Cluster whose shard fails over', () => {
  jest.setTimeout(60_000);
  let cluster: OwnRedisCluster;
  const instances: CacheService[] = [];

  const instance = (overrides: Partial<CacheModuleOptions> = {}) => {
    const cache = cacheInstance(null, { redis: { cluster: { nodes: cluster.nodes } }, commandTimeoutMs: 1_000, ...overrides });
    instances.push(cache);
    return cache;
  };
  const ready = (...caches: CacheService[]) =>
    eventually(() => caches.every((c) => c.status().redisReady && c.status().busConnected), 10_000);

  beforeEach(async () => {
    cluster = await OwnRedisCluster.start({ masters: 3, replicas: 1, lifetimeMs: 120_000 });
  }, 60_000);
  afterEach(async () => {
    await Promise.all(instances.splice(0).map((cache) => cache.onApplicationShutdown()));
    await cluster?.stop();
  });

  /** The master of a Redis key's slot and its replica, once the replica holds everything the master has. */
  async function shardOf(redisKey: string): Promise<{ master: number; replica: number }> {
    const master = (await cluster.slotOwners())(calculateSlot(redisKey));
    const replica = await cluster.replicaOf(master);
    const [m, r] = [cluster.node(master), cluster.node(replica)];
    try {
      await eventually(() => replicaCaughtUp(m, r), 10_000);
    } finally {
      m.disconnect();
      r.disconnect();
    }
    return { master, replica };
  }

  const key = cacheKey('shard', 'item');
  it.each([
    // The shard that fails over is the one of the Redis key the invalidation wrote: the entry, or the tag's key.
    ['a delete', (cache: CacheService) => cache.delete([key]), (cache: CacheService) => cache.keyOf(key)],
    ['a tag invalidation', (cache: CacheService) => cache.invalidateTags(['shard:t']), (cache: CacheService) => tagKeyOf(cache, 'shard:t')],
  ])('%s the promoted replica never received is made again on it', async (_, invalidate, written) => {
    const a = instance();
    await ready(a);
    const { state, read } = versionedReader(key, { ttl: '1h', tags: ['shard:t'] });
    expect(await read(a)).toBe(1);
    const { master, replica } = await shardOf(written(a));

    // The replica falls behind: frozen, and cut off by the master (or the invalidation would wait for it in its
    // socket's receive buffer), it gets nothing of what follows.
    cluster.freeze(replica);
    const old = cluster.node(master);
    try {
      await old.client('KILL', 'TYPE', 'replica');
    } finally {
      old.disconnect();
    }
    state.version = 2;
    await invalidate(a);
    await cluster.kill(master);
    cluster.thaw(replica);
    const promoted = cluster.node(replica);
    try {
      // On a slow machine the cluster may have failed the shard over by itself already (node timeout 2 s).
      if (!/role:master/.test(await promoted.info('replication'))) {
        await promoted.cluster('FAILOVER', 'TAKEOVER');
      }
      await eventually(async () => /role:master/.test(await promoted.info('replication')), 5_000);
    } finally {
      promoted.disconnect();
    }

    // An instance that connects now finds the new master: what it reads from Redis must not be the old value.
    const d = instance({ l1MaxBytes: 0 });
    await ready(d);
    await eventually(async () => (await read(d)) === 2, 8_000);
    expect(Object.fromEntries(d.metrics.redisErrors)).toEqual({});
    expect(a.metrics.invalidationsRedone).toBeGreaterThanOrEqual(1);
  });
});
