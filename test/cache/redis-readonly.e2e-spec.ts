import type Redis from 'ioredis';
import { CacheService, cacheKey } from '../../src/cache';
import { OwnRedis, replicaCaughtUp } from '../support/redis-server';
import { TcpProxy } from '../support/tcp-proxy';
import { cacheInstance, eventually, versionedReader } from './support';

/**
 * A managed Redis fails over by promoting its replica and moving its endpoint (a DNS name) there; the old master
 * comes back as a replica of the new one. Connections made before stay on the old master: it still answers
 * reads, but refuses every write with READONLY. An invalidation sent there never reaches the new master, so
 * every instance reading Redis would serve the old value until its TTL. Here a TCP proxy stands for the endpoint.
 */
describe('cache when its Redis endpoint moves to a promoted replica', () => {
  jest.setTimeout(30_000);
  let first: OwnRedis;
  let second: OwnRedis;
  let proxy: TcpProxy;
  const raw: Redis[] = [];
  const instances: CacheService[] = [];

  const instance = (l1: boolean) => {
    const cache = cacheInstance(`redis://127.0.0.1:${proxy.port}`, l1 ? {} : { l1MaxBytes: 0 });
    instances.push(cache);
    return cache;
  };
  const client = (redis: OwnRedis) => {
    const c = redis.client();
    raw.push(c);
    return c;
  };
  const ready = (...caches: CacheService[]) =>
    eventually(() => caches.every((cache) => cache.status().redisReady && cache.status().busConnected));

  beforeEach(async () => {
    // A replica's first sync waits 5 s by default (repl-diskless-sync-delay) for more replicas to share it.
    first = await OwnRedis.start(['--repl-diskless-sync-delay', '0']);
    second = await OwnRedis.start(['--repl-diskless-sync-delay', '0', '--replicaof', '127.0.0.1', String(first.port)]);
    proxy = await TcpProxy.start('127.0.0.1', first.port);
  });
  afterEach(async () => {
    // Settled, not all: a set-up that failed half-way still stops every server it started.
    await Promise.allSettled(instances.splice(0).map((cache) => cache.onApplicationShutdown()));
    raw.splice(0).forEach((c) => c.disconnect());
    await Promise.allSettled([proxy?.stop(), first?.stop(), second?.stop()]);
  });

  /** Waits until the replica holds everything the master has (the entry written before the failover). */
  async function replicated(): Promise<void> {
    const [master, replica] = [client(first), client(second)];
    await eventually(() => replicaCaughtUp(master, replica), 5_000);
  }

  /** The failover: the replica becomes master, the endpoint moves to it, the old master follows it. */
  async function failOver(): Promise<void> {
    await client(second).replicaof('NO', 'ONE');
    proxy.retarget(second.port);
    await client(first).replicaof('127.0.0.1', second.port);
  }

  it.each([
    ['a delete', (cache: CacheService) => cache.delete([cacheKey('moved', 'item')])],
    ['a tag invalidation', (cache: CacheService) => cache.invalidateTags(['moved:t'])],
    ['a set', (cache: CacheService) => cache.set(cacheKey('moved', 'item'), 2, { ttl: '1h', tags: ['moved:t'] })],
  ])('%s refused with READONLY reconnects to the new master and lands there', async (_, invalidate) => {
    const a = instance(true);
    const c = instance(false);
    await ready(a, c);
    const { state, read } = versionedReader(cacheKey('moved', 'item'), { ttl: '1h', tags: ['moved:t'] });
    expect(await read(a)).toBe(1);
    expect(await read(c)).toBe(1);
    await replicated();
    await failOver();

    state.version = 2;
    await invalidate(a);
    // `a` reconnected at the refusal: its commands go to the new master now (no other instance has written yet).
    const onNewMaster = client(second);
    await eventually(async () => /name=cache-commands/.test((await onNewMaster.client('LIST')) as string), 2_000);
    // An instance that connects now reaches the new master: the old value must be gone from there.
    const d = instance(false);
    await ready(d);
    await eventually(async () => (await read(d)) === 2, 2_000);
    // The instance still on the old master reads what it replicates from the new one.
    await eventually(async () => (await read(c)) === 2, 2_000);
    expect(await read(a)).toBe(2);
    expect(a.metrics.redisErrors.get('readonly')).toBeGreaterThanOrEqual(1);
  });
});
