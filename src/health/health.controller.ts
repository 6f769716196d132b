import { Controller, Get, Header, ServiceUnavailableException, UseFilters } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorFunction,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators';
import { CacheHealthIndicator } from './cache.health';
import { DatabaseHealthIndicator } from './database.health';
import { HealthCheckFailedFilter } from './health-check-failed.filter';
import { HealthTransitions } from './health-transitions';
import { ShutdownService } from './shutdown.service';

@ApiTags('health')
@Public()
@UseFilters(HealthCheckFailedFilter)
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly database: DatabaseHealthIndicator,
    private readonly cache: CacheHealthIndicator,
    private readonly shutdown: ShutdownService,
    private readonly transitions: HealthTransitions,
  ) {}

  /** Liveness: the process answers. Checks nothing external, and stays 200 during shutdown. */
  @Get('live')
  @Header('Cache-Control', 'no-cache, no-store, must-revalidate')
  live(): HealthCheckResult {
    const details = this.indicators.check('process').up({ uptimeSeconds: Math.round(process.uptime()) });
    return { status: 'ok', info: details, error: {}, details };
  }

  /** Readiness: PostgreSQL gates it; Redis is reported (and gates only with CACHE_REQUIRED=true); 503 once shutdown begins. */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.check('ready', [
      () => this.lifecycle(),
      () => this.database.ping('database'),
      () => this.cache.readiness('cache'),
    ]);
  }

  /** Details for people: database, Redis latency and memory, bus, breaker, L1, hit ratio, degraded state. */
  @Get()
  @HealthCheck()
  details(): Promise<HealthCheckResult> {
    return this.check('details', [
      () => this.lifecycle(),
      () => this.database.ping('database'),
      () => this.cache.details('cache'),
    ]);
  }

  /** Terminus's check, with what changed logged (Terminus itself logs nothing: see HealthTransitions). */
  private async check(endpoint: string, indicators: HealthIndicatorFunction[]): Promise<HealthCheckResult> {
    try {
      const result = await this.health.check(indicators);
      this.transitions.saw(endpoint, result);
      return result;
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        this.transitions.saw(endpoint, error.getResponse() as HealthCheckResult);
      }
      throw error;
    }
  }

  private lifecycle() {
    const session = this.indicators.check('lifecycle');
    return this.shutdown.isDraining ? session.down({ message: 'shutting down' }) : session.up();
  }
}
