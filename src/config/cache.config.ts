import { registerAs } from '@nestjs/config';
import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import type { CacheModuleOptions, RedisNode } from '../cache';
import { ConfigurationError, EnvBoolean, ParsableUrl, validateEnv } from './validate-env';

const NODE_LIST = /^[^\s:,]+:\d{1,5}(,[^\s:,]+:\d{1,5})*$/;

class CacheEnv {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. Unset (and no Sentinel/Cluster): L1 only. */
  @IsOptional()
  @ParsableUrl(['redis:', 'rediss:'], 'REDIS_URL')
  REDIS_URL?: string;

  /** Sentinel mode: `host:port,host:port` of the sentinels, with REDIS_SENTINEL_NAME. */
  @IsOptional()
  @Matches(NODE_LIST, { message: 'REDIS_SENTINELS must look like host:port,host:port' })
  REDIS_SENTINELS?: string;

  @IsOptional()
  @IsString()
  REDIS_SENTINEL_NAME?: string;

  @IsOptional()
  @IsString()
  REDIS_SENTINEL_PASSWORD?: string;

  /** Cluster mode: `host:port,host:port` of some cluster nodes. */
  @IsOptional()
  @Matches(NODE_LIST, { message: 'REDIS_CLUSTER_NODES must look like host:port,host:port' })
  REDIS_CLUSTER_NODES?: string;

  /** ACL user and password for Sentinel/Cluster modes (a URL carries its own). */
  @IsOptional()
  @IsString()
  REDIS_USERNAME?: string;

  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string;

  @EnvBoolean()
  @IsBoolean()
  REDIS_TLS = false;

  /** Turn caching off entirely (every decorated method runs as if undecorated): for measuring, or an emergency. */
  @EnvBoolean()
  @IsBoolean()
  CACHE_ENABLED = true;

  @Matches(/^[a-z0-9_-]{1,32}$/i, { message: 'CACHE_PREFIX must be 1-32 of letters, digits, _ and -' })
  CACHE_PREFIX = 'cards';

  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(10_000)
  CACHE_COMMAND_TIMEOUT_MS = 200;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  CACHE_L1_MAX_BYTES = 64 * 1024 * 1024;

  /**
   * After the connection to Redis is lost and back, the invalidations made this long before it are made again
   * (Redis may have lost them: a failover, a restart from an append-only file). 0 turns it off.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  CACHE_REDO_WINDOW_MS = 10_000;

  /** Report the service not ready while Redis is unreachable (default: degrade to the database instead). */
  @EnvBoolean()
  @IsBoolean()
  CACHE_REQUIRED = false;
}

function nodes(list: string): RedisNode[] {
  return list.split(',').map((entry) => {
    const [host, port] = entry.split(':');
    return { host, port: Number(port) };
  });
}

export const cacheConfig = registerAs('cache', () => {
  const env = validateEnv(CacheEnv, process.env);
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_NAME) {
    throw new ConfigurationError(['REDIS_SENTINEL_NAME: required with REDIS_SENTINELS']);
  }
  const modes = [env.REDIS_URL, env.REDIS_SENTINELS, env.REDIS_CLUSTER_NODES].filter(Boolean).length;
  if (modes > 1) {
    throw new ConfigurationError(['REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES: set at most one']);
  }
  const auth = { username: env.REDIS_USERNAME, password: env.REDIS_PASSWORD, tls: env.REDIS_TLS };
  // commandTimeoutMs always set here (the variable has a default): code beside the cache reads it as it is.
  const options: CacheModuleOptions & { enabled: boolean; required: boolean; commandTimeoutMs: number } = {
    enabled: env.CACHE_ENABLED,
    required: env.CACHE_REQUIRED,
    prefix: env.CACHE_PREFIX,
    commandTimeoutMs: env.CACHE_COMMAND_TIMEOUT_MS,
    l1MaxBytes: env.CACHE_L1_MAX_BYTES,
    redoWindow: env.CACHE_REDO_WINDOW_MS,
    redis: env.REDIS_URL
      ? { url: env.REDIS_URL }
      : env.REDIS_SENTINELS
        ? {
            sentinel: {
              sentinels: nodes(env.REDIS_SENTINELS),
              name: env.REDIS_SENTINEL_NAME!,
              sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
              ...auth,
            },
          }
        : env.REDIS_CLUSTER_NODES
          ? { cluster: { nodes: nodes(env.REDIS_CLUSTER_NODES), ...auth } }
          : null,
  };
  return options;
});
export type CacheConfig = ReturnType<typeof cacheConfig>;
