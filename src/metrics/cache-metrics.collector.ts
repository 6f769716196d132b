import { Injectable } from '@nestjs/common';
import { CacheService } from '../cache';
import { CacheSampler } from '../health/cache-sampler';
import { CacheHealthIndicator } from '../health/cache.health';
import { recordCacheEvents } from './cache-event-metrics';
import { exposeCacheState } from './cache-state-metrics';
import { MetricsRegistry } from './metrics.registry';

/**
 * The cache library's metrics in the app's Prometheus registry. Labels are bounded: namespaces (declared in
 * code), tiers, results, error kinds — never keys, ids or users.
 */
@Injectable()
export class CacheMetricsCollector {
  constructor(
    registry: MetricsRegistry,
    cache: CacheService,
    sampler: CacheSampler,
    health: CacheHealthIndicator,
  ) {
    recordCacheEvents(registry.registry, cache.metrics);
    exposeCacheState(registry.registry, cache, sampler, health);
  }
}
