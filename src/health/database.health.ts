import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { HealthConfig } from '../config';

const TIMED_OUT = Symbol('timed-out');

/** An in-flight ping is shared by concurrent checks for this long; after that a hung one is given up on. */
const REUSE_PING_MS = 10_000;

/**
 * PostgreSQL through the app's own pool: `SELECT 1`, bounded by HEALTH_DB_TIMEOUT_MS. Concurrent checks share
 * one ping, so probes never pile queries up on a database that hangs.
 */
@Injectable()
export class DatabaseHealthIndicator {
  private readonly timeoutMs: number;
  private inflight: { promise: Promise<number>; startedAt: number } | null = null;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @InjectDataSource() private readonly dataSource: DataSource,
    config: ConfigService,
  ) {
    this.timeoutMs = config.getOrThrow<HealthConfig>('health').dbTimeoutMs;
  }

  async ping<const Key extends string>(key: Key): Promise<HealthIndicatorResult<Key>> {
    const session = this.indicators.check(key);
    if (!this.dataSource.isInitialized) {
      return session.down({ message: 'closed' });
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>(
      (resolve) => (timer = setTimeout(resolve, this.timeoutMs, TIMED_OUT)),
    );
    try {
      const result = await Promise.race([this.sharedPing(), timeout]);
      if (result === TIMED_OUT) {
        return session.down({ message: `no answer within ${this.timeoutMs} ms` });
      }
      return session.up({ latencyMs: result });
    } catch (error) {
      // The driver's message may name hosts and users; the code alone says what went wrong.
      const code = (error as { code?: unknown }).code;
      return session.down({ message: typeof code === 'string' ? `unreachable (${code})` : 'unreachable' });
    } finally {
      clearTimeout(timer);
    }
  }

  private sharedPing(): Promise<number> {
    const now = Date.now();
    if (this.inflight && now - this.inflight.startedAt < REUSE_PING_MS) {
      return this.inflight.promise;
    }
    const started = performance.now();
    const promise = this.dataSource
      .query('SELECT 1')
      .then(() => Math.round((performance.now() - started) * 100) / 100)
      .finally(() => {
        if (this.inflight?.promise === promise) {
          this.inflight = null;
        }
      });
    this.inflight = { promise, startedAt: now };
    return promise;
  }
}
