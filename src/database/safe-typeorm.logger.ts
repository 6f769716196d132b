import { Logger as NestLogger } from '@nestjs/common';
import type { Logger, QueryRunner } from 'typeorm';

/**
 * TypeORM's own loggers print query parameters, which include password hashes, e-mails and tokens. This one
 * logs the SQL text only, never the parameters.
 */
export class SafeTypeOrmLogger implements Logger {
  private readonly logger = new NestLogger('Database');
  /** Statements sent to the database since start (transaction control excluded): what tests of caching read. */
  queries = 0;

  constructor(private readonly verbose: boolean) {}

  logQuery(query: string, _parameters?: unknown[], _runner?: QueryRunner): void {
    if (!/^(START TRANSACTION|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)/i.test(query)) {
      this.queries++;
    }
    if (this.verbose) {
      this.logger.debug(query);
    }
  }

  logQueryError(error: string | Error, query: string, _parameters?: unknown[], _runner?: QueryRunner): void {
    const message = error instanceof Error ? error.message : error;
    this.logger.warn(`${message} -- in: ${query.slice(0, 500)}`);
  }

  logQuerySlow(time: number, query: string, _parameters?: unknown[], _runner?: QueryRunner): void {
    this.logger.warn(`slow query (${time} ms): ${query.slice(0, 500)}`);
  }

  logSchemaBuild(message: string): void {
    this.logger.debug(message);
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') {
      this.logger.warn(String(message));
    } else if (this.verbose) {
      this.logger.log(String(message));
    }
  }
}
