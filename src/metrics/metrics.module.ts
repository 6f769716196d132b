import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { HealthModule } from '../health/health.module';
import { CacheMetricsCollector } from './cache-metrics.collector';
import { HttpMetrics } from './http-metrics';
import { HttpMetricsInterceptor } from './http-metrics.interceptor';
import { MetricsEndpoint } from './metrics.endpoint';
import { MetricsRegistry } from './metrics.registry';

/** Prometheus metrics: HTTP request durations, the cache's counters and states, Redis memory, Node's process. */
@Module({
  imports: [HealthModule],
  providers: [
    MetricsRegistry,
    HttpMetrics,
    CacheMetricsCollector,
    MetricsEndpoint,
    { provide: APP_INTERCEPTOR, useClass: HttpMetricsInterceptor },
  ],
  exports: [MetricsRegistry],
})
export class MetricsModule {}
