import { Controller, Get, Header, UseFilters } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators';
import { CacheHealthIndicator } from './cache.health';
import { DatabaseHealthIndicator } from './database.health';
import { HealthCheckFailedFilter } from './health-check-failed.filter';
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
    return this.health.check([
      () => this.lifecycle(),
      () => this.database.ping('database'),
      () => this.cache.readiness('cache'),
    ]);
  }

  /** Details for people: database, Redis latency and memory, bus, breaker, L1, hit ratio, degraded state. */
  @Get()
  @HealthCheck()
  details(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.lifecycle(),
      () => this.database.ping('database'),
      () => this.cache.details('cache'),
    ]);
  }

  private lifecycle() {
    const session = this.indicators.check('lifecycle');
    return this.shutdown.isDraining ? session.down({ message: 'shutting down' }) : session.up();
  }
}
