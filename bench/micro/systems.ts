import { Logger } from '@nestjs/common';
import KeyvRedis, { createKeyv } from '@keyv/redis';
import type { BentoCache, BentoStore } from 'bentocache' with { 'resolution-mode': 'import' };
import { Cache, createCache } from 'cache-manager';
import Redis from 'ioredis';
import { Keyv } from 'keyv';
import { CacheService } from '../../src/cache';

/**
 * Every system under test, built once per run against one Redis. Each library is set up in its fastest documented
 * mode that keeps the semantics of ours: in-memory tiers hand back the stored object (no JSON round trip per hit),
 * as our L1 does with its frozen value.
 */
export interface Systems {
  ours: { l1Only: CacheService; tiered: CacheService; l2Only: CacheService };
  bento: BentoCache<{ memory: BentoStore; tiered: BentoStore; redis: BentoStore }>;
  cm: { memory: Cache; tiered: Cache; redis: Cache };
  raw: Redis;
  /** For counting what each system sent to Redis (INFO commandstats), never used by a system under test. */
  probe: Redis;
  close(): Promise<void>;
}

/** Keyv's in-memory store without serialization: what `createCache()` uses when given no store. */
function memoryKeyv(): Keyv {
  return new Keyv({ serialize: undefined, deserialize: undefined });
}

function redisKeyv(url: string): Keyv {
  return createKeyv(url, { namespace: 'cm' });
}

export async function createSystems(url: string, port: number): Promise<Systems> {
  // BentoCache ships as ESM only; this project compiles to CommonJS.
  const [{ BentoCache, bentostore }, { memoryDriver }, { redisBusDriver, redisDriver }] = await Promise.all([
    import('bentocache'),
    import('bentocache/drivers/memory'),
    import('bentocache/drivers/redis'),
  ]);
  // Our engine logs through Nest's Logger; only warnings and errors matter during a benchmark.
  Logger.overrideLogger(['error', 'warn']);
  const common = { redis: { url }, logInterval: '1h' } as const;
  const ours = {
    l1Only: new CacheService({ prefix: 'bench-l1', redis: null, logInterval: '1h' }),
    tiered: new CacheService({ prefix: 'bench-tiered', ...common }),
    l2Only: new CacheService({ prefix: 'bench-l2', ...common, l1MaxBytes: 0 }),
  };

  const connection = { host: '127.0.0.1', port };
  const memory = () => memoryDriver({ maxItems: 100_000, serialize: false });
  const bento = new BentoCache({
    default: 'memory',
    prefix: 'bento',
    stores: {
      memory: bentostore().useL1Layer(memory()),
      tiered: bentostore()
        .useL1Layer(memory())
        .useL2Layer(redisDriver({ connection }))
        .useBus(redisBusDriver({ connection })),
      redis: bentostore().useL2Layer(redisDriver({ connection })),
    },
  });

  const redisStores = [redisKeyv(url), redisKeyv(url)];
  const cm = {
    memory: createCache({ stores: [memoryKeyv()] }),
    tiered: createCache({ stores: [memoryKeyv(), redisStores[0]] }),
    redis: createCache({ stores: [redisStores[1]] }),
  };

  const raw = new Redis(url);
  const probe = new Redis(url);
  await Promise.all([ready(ours.tiered), ready(ours.l2Only), raw.ping(), probe.ping()]);
  // Both peers connect on first use: connect them now, so no connection set-up (HELLO, SUBSCRIBE…) lands in a
  // timed slice or is counted against an L1 row.
  await Promise.all([
    ...redisStores.map((k) => (k.store as KeyvRedis<unknown>).getClient()),
    bento.use('tiered').has({ key: 'connect' }),
    bento.use('redis').has({ key: 'connect' }),
    cm.tiered.get('connect'),
    cm.redis.get('connect'),
  ]);

  return {
    ours,
    bento,
    cm,
    raw,
    probe,
    async close() {
      // Our bus warns when its connection closes, our own shutdown included: not worth a line here.
      Logger.overrideLogger(['error']);
      await Promise.all(Object.values(ours).map((s) => s.onApplicationShutdown()));
      await bento.disconnectAll();
      await Promise.all(Object.values(cm).map((c) => c.disconnect()));
      raw.disconnect();
      probe.disconnect();
    },
  };
}

/** Until Redis answers and the bus is subscribed: before that an L1 hit may still ask Redis for tag versions. */
async function ready(cache: CacheService): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(cache.status().redisReady && cache.status().busConnected)) {
    if (Date.now() > deadline) {
      throw new Error(`cache ${cache.options.keyPrefix} did not connect to Redis`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
