import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config';
import { Character } from '../characters/entities/character.entity';
import { GenerationJob } from '../generations/entities/generation-job.entity';
import { Image } from '../images/entities/image.entity';
import { User } from '../users/entities/user.entity';
import { Init1764000000000 } from './migrations/1764000000000-init';
import { ForeignKeyIndexes1764100000000 } from './migrations/1764100000000-foreign-key-indexes';
import { BillingEvents1764200000000 } from './migrations/1764200000000-billing-events';
import { NfcCharacterText1764300000000 } from './migrations/1764300000000-nfc-character-text';
import { SfwImageCount1764400000000 } from './migrations/1764400000000-sfw-image-count';
import { embeddedPgConfig } from './embedded-postgres';
import { SafeTypeOrmLogger } from './safe-typeorm.logger';

export const ENTITIES = [User, Character, Image, GenerationJob];
export const MIGRATIONS = [
  Init1764000000000,
  ForeignKeyIndexes1764100000000,
  BillingEvents1764200000000,
  NfcCharacterText1764300000000,
  SfwImageCount1764400000000,
];

/**
 * One place decides where the data lives: a real PostgreSQL when DATABASE_URL is set, else PGlite (PostgreSQL
 * compiled to WASM) in-process, reached through its own node-postgres adapter so TypeORM's postgres driver,
 * transactions and migrations run unchanged. PGlite serves one connection, hence pool size 1.
 */
export function buildDataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: config.migrate,
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    logger: new SafeTypeOrmLogger(config.logging),
    maxQueryExecutionTime: 1_000,
  };
  if (config.url) {
    return {
      ...common,
      url: config.url,
      poolSize: config.poolSize,
      extra: {
        connectionTimeoutMillis: config.connectTimeoutMs,
        statement_timeout: config.queryTimeoutMs,
        query_timeout: config.queryTimeoutMs + 1_000,
      },
    };
  }
  const dir = resolve(config.pgliteDir);
  mkdirSync(dir, { recursive: true });
  return {
    ...common,
    poolSize: 1,
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    extra: embeddedPgConfig(dir),
  };
}
