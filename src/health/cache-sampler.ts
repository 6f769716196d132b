import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { CacheService } from '../cache';
import type { CacheConfig, HealthConfig } from '../config';
import { getTotals, HitRatio, HitRatioWindow } from './hit-ratio';
import { down, RedisProbe, RedisSample } from './redis-probe';

/**
 * Samples what is too slow or too costly to ask per request, on an interval: Redis PING latency, memory and
 * evictions (through a connection of its own), and snapshots of the cache counters for the hit-ratio window.
 * Health endpoints and metrics read the last sample, so they answer at once whatever state Redis is in.
 */
@Injectable()
export class CacheSampler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Health');
  private readonly config: HealthConfig;
  private readonly window: HitRatioWindow;
  private readonly redisOptions: CacheConfig['redis'];
  private probe: RedisProbe | null = null;
  private last: RedisSample | null = null;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | null = null;
  private closing = false;

  constructor(
    private readonly cache: CacheService,
    config: ConfigService,
  ) {
    this.config = config.getOrThrow<HealthConfig>('health');
    const cacheConfig = config.getOrThrow<CacheConfig>('cache');
    this.window = new HitRatioWindow(this.config.hitRatioWindowMs);
    this.redisOptions = cacheConfig.enabled ? (cacheConfig.redis ?? null) : null;
  }

  onApplicationBootstrap(): void {
    this.window.record(Date.now(), getTotals(this.cache.metrics));
    if (this.redisOptions) {
      this.probe = new RedisProbe(this.redisOptions, this.config.redisTimeoutMs);
      // Connection state changes are news at once, not at the next tick.
      this.probe.client.on('ready', () => void this.sampleNow());
      this.probe.client.on('close', () => this.record(down(Date.now(), 'unreachable')));
      this.probe.client.on('error', (error: Error) =>
        this.logger.debug(`Redis health connection: ${error.message}`),
      );
    }
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    await this.probe?.close();
  }

  /** The last Redis sample; null when no Redis is configured or nothing was sampled yet. */
  redis(): RedisSample | null {
    return this.last;
  }

  hitRatio(): HitRatio {
    return this.window.ratio(Date.now(), getTotals(this.cache.metrics));
  }

  /** Takes a sample now (joins the one under way, if any). */
  sampleNow(): Promise<void> {
    this.sampling ??= this.sample().finally(() => (this.sampling = null));
    return this.sampling;
  }

  private schedule(): void {
    if (this.closing) {
      return;
    }
    this.timer = setTimeout(() => {
      void this.sampleNow().finally(() => this.schedule());
    }, this.config.sampleIntervalMs);
    this.timer.unref();
  }

  private async sample(): Promise<void> {
    this.window.record(Date.now(), getTotals(this.cache.metrics));
    if (this.probe && !this.closing) {
      this.record(await this.probe.sample());
    }
  }

  private record(sample: RedisSample): void {
    const was = this.last?.ok;
    this.last = sample;
    if (this.closing || was === sample.ok) {
      return;
    }
    if (sample.ok) {
      this.logger.log(`Redis answers (PING ${sample.pingMs} ms)`);
    } else if (was !== undefined) {
      this.logger.warn(`Redis does not answer the health sampler (${sample.problem})`);
    }
  }
}
