import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { CacheService } from '../cache';
import type { CacheConfig, HealthConfig } from '../config';
import { CacheSampler } from './cache-sampler';
import { cacheView, CacheView } from './cache-state';

/**
 * The cache as a health indicator. It answers from memory (the cache's status and the sampler's last sample),
 * so it never waits on Redis. It is `down` only when Redis is down and CACHE_REQUIRED=true: otherwise the
 * service degrades to the database, and failing readiness on every pod at once would take them all out.
 */
@Injectable()
export class CacheHealthIndicator {
  private readonly health: HealthConfig;
  private readonly required: boolean;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly cache: CacheService,
    private readonly sampler: CacheSampler,
    config: ConfigService,
  ) {
    this.health = config.getOrThrow<HealthConfig>('health');
    this.required = config.getOrThrow<CacheConfig>('cache').required;
  }

  view(): CacheView {
    return cacheView(this.cache.enabled, this.cache.status(), this.sampler.redis(), {
      slowMs: this.health.redisSlowMs,
      maxAgeMs: this.health.sampleIntervalMs * 3,
      now: Date.now(),
    });
  }

  /** For readiness: the Redis state and PING latency, gating only when the cache is required. */
  readiness<const Key extends string>(key: Key): HealthIndicatorResult<Key> {
    const view = this.view();
    const data = { state: view.state, redis: view.redis, pingMs: view.pingMs, required: this.required };
    const session = this.indicators.check(key);
    return this.gates(view) ? session.down(data) : session.up(data);
  }

  /** For people: everything the cache knows about itself. Never keys, values or connection strings. */
  details<const Key extends string>(key: Key): HealthIndicatorResult<Key> {
    const view = this.view();
    const status = this.cache.status();
    const sample = this.sampler.redis();
    const memory =
      sample?.ok && sample.usedMemoryBytes !== null
        ? {
            usedMemoryBytes: sample.usedMemoryBytes,
            maxMemoryBytes: sample.maxMemoryBytes,
            memoryUsedRatio: sample.maxMemoryBytes
              ? round(sample.usedMemoryBytes / sample.maxMemoryBytes)
              : null,
            maxMemoryPolicy: sample.maxMemoryPolicy,
            evictedKeys: sample.evictedKeys,
          }
        : {};
    const data = {
      state: view.state,
      required: this.required,
      redis: {
        state: view.redis,
        pingMs: view.pingMs,
        sampledAt: sample ? new Date(sample.at).toISOString() : null,
        ...(sample && !sample.ok ? { problem: sample.problem } : {}),
        ...memory,
      },
      bus: { connected: status.busConnected },
      breaker: status.breaker,
      l1: { entries: status.l1Entries, bytes: status.l1Bytes },
      hitRatio: this.sampler.hitRatio(),
      pendingInvalidations: status.pendingInvalidations,
    };
    const session = this.indicators.check(key);
    return this.gates(view) ? session.down(data) : session.up(data);
  }

  private gates(view: CacheView): boolean {
    return this.required && view.redis === 'down';
  }
}

const round = (n: number) => Math.round(n * 10_000) / 10_000;
