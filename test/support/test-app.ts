import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.setup';
import type { SafeTypeOrmLogger } from '../../src/database/safe-typeorm.logger';
import { databaseUrl, runPrefix, templateName, withAdminClient } from './databases';

export interface TestApp {
  app: NestFastifyApplication;
  databaseUrl: string;
  /** Statements the app has sent to PostgreSQL so far (see SafeTypeOrmLogger). */
  queries(): number;
  http: TestAgent;
  /** A direct connection to the suite's database, for asserting what was (not) written. */
  db: Pool;
  close(): Promise<void>;
}

/** A fresh database for one suite, cloned from the run's migrated template. */
export async function createSuiteDatabase(): Promise<string> {
  // Jest gives each suite a fresh module registry in a reused worker: a counter would repeat, a random suffix won't.
  const name = `${runPrefix()}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdminClient((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${templateName()}`));
  return databaseUrl(name);
}

/**
 * Boots the real application (Fastify adapter, global pipes, filters, guards) on a fresh database. `env`
 * overrides configuration the way an operator would, through environment variables.
 */
export async function bootTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  // A second app instance on the same data: pass the first one's DATABASE_URL.
  const url = env.DATABASE_URL ?? (await createSuiteDatabase());
  setEnvironment({
    NODE_ENV: 'test',
    DATABASE_URL: url,
    DB_MIGRATE: 'false',
    LOGIN_RATE_LIMIT: '1000',
    REGISTER_RATE_LIMIT: '1000',
    STORAGE_LOCAL_DIR: `/tmp/cards-test-uploads/${new URL(url).pathname.slice(1)}`,
    ...env,
  });
  const app = await createApp({ logger: false });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const db = new Pool({ connectionString: url, max: 2 });
  // Suites that cut the database off see idle connections die; that is expected, not a crash.
  db.on('error', () => undefined);
  const logger = app.get(DataSource).logger as SafeTypeOrmLogger;
  return {
    app,
    databaseUrl: url,
    queries: () => logger.queries,
    http: request(app.getHttpServer()),
    db,
    close: async () => {
      await db.end();
      await app.close();
    },
  };
}

/**
 * Jest runs many suites in one worker process, and process.env is the process's: without this, a variable one
 * suite set (REDIS_URL of its own, now stopped, redis-server) would leak into the next suite's app.
 */
function setEnvironment(values: Record<string, string>): void {
  const holder = process as unknown as { cardsPristineEnv?: NodeJS.ProcessEnv };
  holder.cardsPristineEnv ??= { ...process.env };
  const pristine = holder.cardsPristineEnv;
  for (const key of Object.keys(process.env)) {
    if (!(key in pristine)) {
      delete process.env[key];
    }
  }
  Object.assign(process.env, pristine, values);
}
