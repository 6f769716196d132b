import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { closeEmbeddedPostgres } from './embedded-postgres';

/**
 * Runs before TypeORM's own shutdown hook (this module depends on it): closes the pool and then the embedded
 * PGlite, in that order. TypeORM's hook then finds the data source already closed. No-op on real PostgreSQL.
 */
@Injectable()
export class EmbeddedPostgresLifecycle implements OnApplicationShutdown {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onApplicationShutdown(): Promise<void> {
    return closeEmbeddedPostgres(this.dataSource);
  }
}
