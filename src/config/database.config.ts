import { registerAs } from '@nestjs/config';
import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { ConfigurationError, EnvBoolean, isProduction, ParsableUrl, validateEnv } from './validate-env';


class DatabaseEnv {
  /** Unset: embedded PGlite under PGLITE_DIR. */
  @IsOptional()
  @ParsableUrl(['postgres:', 'postgresql:'], 'DATABASE_URL')
  DATABASE_URL?: string;

  @EnvBoolean()
  @IsBoolean()
  DB_MIGRATE = false;

  @IsString()
  PGLITE_DIR = '.data/pglite';

  @EnvBoolean()
  @IsBoolean()
  PGLITE_SEED = true;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  DB_POOL_SIZE = 10;

  @EnvBoolean()
  @IsBoolean()
  DB_LOGGING = false;

  /** How long to wait for a connection before answering 503 (never hang on a dead database). */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(60_000)
  DB_CONNECT_TIMEOUT_MS = 3_000;

  /** Longest a statement may run (server-side statement_timeout and client-side query timeout). */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  DB_QUERY_TIMEOUT_MS = 10_000;
}

export const databaseConfig = registerAs('database', () => {
  const env = validateEnv(DatabaseEnv, process.env);
  if (!env.DATABASE_URL && isProduction(process.env)) {
    // Each pod would run on a database of its own, seeded with demo data, and write what it read into the
    // shared Redis, where the pods with the real database would serve it.
    throw new ConfigurationError(['DATABASE_URL: must be set when NODE_ENV=production (unset runs an embedded database per process)']);
  }
  return {
    url: env.DATABASE_URL,
    embedded: !env.DATABASE_URL,
    // The embedded database always migrates: there is nobody to run `migration:run` for it.
    migrate: env.DB_MIGRATE || !env.DATABASE_URL,
    pgliteDir: env.PGLITE_DIR,
    seedEmbedded: env.PGLITE_SEED,
    poolSize: env.DB_POOL_SIZE,
    logging: env.DB_LOGGING,
    connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: env.DB_QUERY_TIMEOUT_MS,
  };
});
export type DatabaseConfig = ReturnType<typeof databaseConfig>;
