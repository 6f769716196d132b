import { registerAs } from '@nestjs/config';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { validateEnv } from './validate-env';

class HealthEnv {
  /** How long the readiness check waits for PostgreSQL's `SELECT 1` before answering 503. */
  @Type(() => Number)
  @IsInt()
  @Min(50)
  @Max(5_000)
  HEALTH_DB_TIMEOUT_MS = 500;

  /** How long the health sampler waits for Redis PING / INFO before it counts Redis as down. */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(5_000)
  HEALTH_REDIS_TIMEOUT_MS = 250;

  /** A Redis PING slower than this reports Redis as `degraded`. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(5_000)
  HEALTH_REDIS_SLOW_MS = 100;

  /** How often Redis (PING, INFO memory/stats) and the cache counters are sampled; never per request. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(300_000)
  HEALTH_SAMPLE_INTERVAL_MS = 5_000;

  /** The window of the hit ratio shown by GET /health. */
  @Type(() => Number)
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  HEALTH_HIT_RATIO_WINDOW_MS = 300_000;

  /**
   * After SIGTERM: readiness answers 503 at once and the service keeps serving this long (so load balancers stop
   * sending traffic) before HTTP closes. Keep it below the orchestrator's grace period.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(600_000)
  SHUTDOWN_DRAIN_MS = 5_000;

  /**
   * Once HTTP closes: how long requests still in flight may take to finish before their connections are cut (a
   * client that stalled mid-request would otherwise hold the shutdown until the orchestrator kills the process,
   * before Redis and PostgreSQL were closed). Drain + this + a few seconds must stay below the grace period.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(600_000)
  SHUTDOWN_CLOSE_MS = 10_000;
}

export const healthConfig = registerAs('health', () => {
  const env = validateEnv(HealthEnv, process.env);
  return {
    dbTimeoutMs: env.HEALTH_DB_TIMEOUT_MS,
    redisTimeoutMs: env.HEALTH_REDIS_TIMEOUT_MS,
    redisSlowMs: env.HEALTH_REDIS_SLOW_MS,
    sampleIntervalMs: env.HEALTH_SAMPLE_INTERVAL_MS,
    hitRatioWindowMs: env.HEALTH_HIT_RATIO_WINDOW_MS,
    drainMs: env.SHUTDOWN_DRAIN_MS,
    closeMs: env.SHUTDOWN_CLOSE_MS,
  };
});
export type HealthConfig = ReturnType<typeof healthConfig>;
