export { RedisCacheModule } from './redis-cache.module';
export { CacheService } from './cache.service';
export { CacheContext } from './cache-context';
export type { CacheRead, ReadFreshness } from './cache-context';
export type { CacheModuleOptions, RedisConnectionOptions, RedisNode } from './cache.options';
export { cacheKey, CacheLoadTimeoutError } from './cache.types';
export type { BatchItemTags, BatchPolicy, CacheKey, CachePolicy, CacheResult, CacheSource, CacheStatus, EvictMode } from './cache.types';
export { Cacheable, CacheableBatch, CacheEvict, CachePut } from './decorators/cache.decorators';
export type {
  CacheableBatchPolicy,
  CacheablePolicy,
  CacheEvictPolicy,
  CachePutPolicy,
  CacheScope,
} from './decorators/cache-policies';
export type { Duration } from './core/duration';
export type { KeyPart } from './core/keys';
export { contentHash, Envelope } from './core/envelope';
export { RecentMap } from './core/recent-map';
export { closeRedisClient, createRedisClient } from './redis/redis-clients';
export type { RedisClient } from './redis/redis-clients';
export { CacheMetrics } from './core/cache-metrics';
