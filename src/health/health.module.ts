import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import type { HealthConfig } from '../config';
import { CacheSampler } from './cache-sampler';
import { CacheHealthIndicator } from './cache.health';
import { DatabaseHealthIndicator } from './database.health';
import { HealthController } from './health.controller';
import { HealthTransitions, TerminusLogger } from './health-transitions';
import { ShutdownService } from './shutdown.service';

/**
 * GET /health/live, /health/ready and /health, and the graceful shutdown: Terminus holds the shutdown for
 * SHUTDOWN_DRAIN_MS after SIGTERM (its `gracefulShutdownTimeoutMs`), while readiness already answers 503.
 */
@Module({
  imports: [
    TerminusModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        gracefulShutdownTimeoutMs: config.getOrThrow<HealthConfig>('health').drainMs,
        logger: new TerminusLogger(),
      }),
    }),
  ],
  controllers: [HealthController],
  providers: [CacheSampler, CacheHealthIndicator, DatabaseHealthIndicator, ShutdownService, HealthTransitions],
  exports: [CacheSampler, CacheHealthIndicator],
})
export class HealthModule {}
