import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source-options';
import { databaseUrl, templateName, withAdminClient } from './databases';

/**
 * Checks that the real PostgreSQL answers, then builds one migrated template database for this run. Suites clone
 * it (CREATE DATABASE ... TEMPLATE), which takes milliseconds, and global-teardown drops every clone.
 */
export default async function globalSetup(): Promise<void> {
  process.env.CARDS_TEST_RUN = `${Date.now().toString(36)}_${process.pid}`;
  const template = templateName();
  await withAdminClient((c) => c.query(`CREATE DATABASE ${template}`));
  const db = new DataSource(
    buildDataSourceOptions({
      url: databaseUrl(template),
      embedded: false,
      migrate: true,
      pgliteDir: '',
      seedEmbedded: false,
      poolSize: 1,
      logging: false,
      connectTimeoutMs: 5_000,
      queryTimeoutMs: 60_000,
    }),
  );
  await db.initialize();
  await db.destroy();
}
