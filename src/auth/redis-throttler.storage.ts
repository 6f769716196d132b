import { Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import { closeRedisClient, createRedisClient, RedisClient } from '../cache';
import type { CacheConfig } from '../config';

/**
 * One hit against a fixed window: KEYS[1] counts the window's hits, KEYS[2] marks a block (same hash tag, one
 * slot). ARGV: window ms, limit, block ms. Returns hits, ms left in the window, blocked (0/1), ms left blocked.
 */
const HIT = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1]), 1, blocked}
end
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if hits > tonumber(ARGV[2]) then
  local block = tonumber(ARGV[3])
  if block <= 0 then return {hits, ttl, 1, ttl} end
  redis.call('SET', KEYS[2], '1', 'PX', block)
  return {hits, ttl, 1, block}
end
return {hits, ttl, 0, 0}`;

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** How often, at most, a Redis failure is logged. */
const LOG_EVERY_MS = 60_000;

type LimitsClient = RedisClient & {
  throttleHit(hits: string, block: string, windowMs: number, limit: number, blockMs: number): Promise<[number, number, number, number]>;
};

/**
 * Rate-limit counters (the login limit) in Redis, so every instance counts against one limit: with N pods, N
 * times the attempts otherwise. The keys carry the throttler's own key, a hash of the route and the client
 * address, never the address itself. Without Redis, or while it fails (refused, down, slower than the command
 * timeout), each instance counts on its own, as @nestjs/throttler does by default: a limit per pod rather than
 * none, and never a failed login because Redis is away.
 */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly local = new ThrottlerStorageService();
  private readonly client: LimitsClient | null;
  private readonly prefix: string;
  private loggedAt = -Infinity;
  private closing: Promise<void> | undefined;

  constructor(config: ConfigService) {
    const cache = config.getOrThrow<CacheConfig>('cache');
    this.prefix = `${cache.prefix}:%limit`;
    if (!cache.redis) {
      this.client = null;
      return;
    }
    const client = createRedisClient(cache.redis, cache.commandTimeoutMs, 'limits') as LimitsClient;
    client.defineCommand('throttleHit', { numberOfKeys: 2, lua: HIT });
    // Connection errors are answered by the fallback below; ioredis would otherwise print each one.
    client.on('error', () => undefined);
    this.client = client;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    if (this.client?.status === 'ready') {
      const slot = `${this.prefix}:{${throttlerName}:${key}}`;
      try {
        const [totalHits, windowMs, blocked, blockMs] = await this.client.throttleHit(`${slot}:hits`, `${slot}:block`, ttl, limit, blockDuration);
        return { totalHits, timeToExpire: seconds(windowMs), isBlocked: blocked === 1, timeToBlockExpire: blocked === 1 ? seconds(blockMs) : 0 };
      } catch (error) {
        this.warn(error);
      }
    }
    return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
  }

  private warn(error: unknown): void {
    const now = performance.now();
    if (now - this.loggedAt >= LOG_EVERY_MS) {
      this.loggedAt = now;
      this.logger.warn(`Rate limits counted per instance: Redis failed (${error instanceof Error ? error.message : String(error)})`);
    }
  }

  /**
   * Once, however often Nest calls it: ThrottlerModule provides this same instance again (as its storage), so
   * the hook runs twice.
   */
  onApplicationShutdown(): Promise<void> {
    this.closing ??= (async () => {
      this.local.onApplicationShutdown();
      if (this.client) {
        await closeRedisClient(this.client);
      }
    })();
    return this.closing;
  }
}

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1_000));

/** Gives ThrottlerModule.forRootAsync the storage as a provider of its own, so it is closed on shutdown. */
@Module({ providers: [RedisThrottlerStorage], exports: [RedisThrottlerStorage] })
export class RateLimitStorageModule {}
