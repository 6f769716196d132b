import { Logger } from '@nestjs/common';
import type { CacheConfig } from '../config';

/**
 * Logs when the cache's Redis connections are finally closed (ioredis `end`: closed and not reconnecting), through
 * the cache library's `createClient` hook, so the shutdown order can be read from the logs.
 */
export function logRedisConnectionEnd(options: CacheConfig): CacheConfig {
  if (!options.redis) {
    return options;
  }
  const logger = new Logger('Cache');
  const wrapped = options.redis.createClient;
  return {
    ...options,
    redis: {
      ...options.redis,
      createClient: (role, build) => {
        const client = wrapped ? wrapped(role, build) : build();
        client.once('end', () => logger.log(`Redis connection closed (${role})`));
        return client;
      },
    },
  };
}
