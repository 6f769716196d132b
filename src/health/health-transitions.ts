import { Injectable, Logger } from '@nestjs/common';
import type { HealthCheckResult, HealthIndicatorResult } from '@nestjs/terminus';

/** How often a check that stays down is logged again, so a long outage is still visible in recent logs. */
const REMIND_EVERY_MS = 5 * 60_000;

interface Down {
  since: number;
  remindedAt: number;
}

/**
 * Logs health checks when they change, not on every probe. Kubernetes probes each pod every few seconds: logging
 * each failed probe at error level (Terminus's default) buried an outage's first line under thousands of copies.
 * Here a check going down is one warning with its details, a check still down is repeated every five minutes,
 * and a recovery is one line saying how long it lasted. Draining for shutdown is expected and logged at info.
 * Each endpoint keeps its own state: readiness and the detailed view judge the cache differently.
 */
@Injectable()
export class HealthTransitions {
  private readonly logger = new Logger('HealthCheck');
  private readonly down = new Map<string, Down>();

  saw(endpoint: string, result: Pick<HealthCheckResult, 'details'>, now = Date.now()): void {
    for (const [name, detail] of Object.entries<HealthIndicatorResult[string]>(result.details ?? {})) {
      const key = `${endpoint} ${name}`;
      const was = this.down.get(key);
      if (detail.status === 'up') {
        if (was) {
          this.down.delete(key);
          this.logger.log({ check: name, endpoint, downForMs: now - was.since }, `${name} is up again`);
        }
      } else if (!was) {
        this.down.set(key, { since: now, remindedAt: now });
        this.report(name, endpoint, detail, `${name} is down`);
      } else if (now - was.remindedAt >= REMIND_EVERY_MS) {
        was.remindedAt = now;
        this.report(name, endpoint, { ...detail, downForMs: now - was.since }, `${name} is still down`);
      }
    }
  }

  private report(name: string, endpoint: string, detail: Record<string, unknown>, message: string): void {
    const fields = { check: name, endpoint, ...detail };
    if (name === 'lifecycle') {
      this.logger.log(fields, message);
    } else {
      this.logger.warn(fields, message);
    }
  }
}

/**
 * Terminus's logger: its shutdown lines as they are, but not the error it writes on every failed probe
 * ("Health Check has failed! {…}"), which HealthTransitions reports once per change instead.
 */
export class TerminusLogger extends Logger {
  constructor() {
    super('Terminus');
  }

  override error(message: unknown, ...rest: unknown[]): void {
    if (typeof message === 'string' && message.startsWith('Health Check has failed!')) {
      return;
    }
    super.error(message, ...rest);
  }
}
