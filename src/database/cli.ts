import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { DataSource } from 'typeorm';
import { databaseConfig, DatabaseConfig } from '../config/database.config';
import { buildDataSourceOptions } from './data-source-options';
import { closeEmbeddedPostgres } from './embedded-postgres';
import { SeedOptions } from './seed/seed-plan';
import { seedPasswordHash } from './seed/seed-password';
import { DatabaseNotEmptyError, SEEDED_TABLES, seedDatabase } from './seed/seeder';

export const USAGE = `Usage: node dist/database/cli.js <command> [options]

Commands:
  migrate   run pending migrations
  seed      run pending migrations, then insert a deterministic data set
              --users N        users to create       (default 1000)
              --characters N   characters to create  (default 10000)
              --images N       images to create      (default 50000)
              --seed S         random seed, 0..4294967295 (default 42): same seed, same data
              --reset          truncate ${SEEDED_TABLES.join(', ')} first (else a non-empty database is refused)

The database comes from DATABASE_URL; unset, it is the embedded PGlite under PGLITE_DIR (default .data/pglite).
Stop the app before touching the embedded database: PGlite serves one process at a time.
Through npm: npm run seed -- --users 1000 --characters 10000 --images 50000 --seed 7`;

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type Command =
  { name: 'help' } | { name: 'migrate' } | { name: 'seed'; options: SeedOptions; reset: boolean };

/** A bad command line; the message names the offending command or flag. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const consoleOutput: CliOutput = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

const SEED_FLAGS = {
  users: { max: 1_000_000 },
  characters: { max: 2_000_000 },
  images: { max: 10_000_000 },
  seed: { max: 0xffff_ffff },
} as const;
type CountFlag = keyof typeof SEED_FLAGS;

export const DEFAULT_SEED: SeedOptions = { users: 1_000, characters: 10_000, images: 50_000, seed: 42 };

function parseCount(flag: CountFlag, raw: string | undefined): number {
  if (raw === undefined || raw === '') {
    throw new UsageError(`--${flag} needs a value`);
  }
  const { max } = SEED_FLAGS[flag];
  if (!/^\d+$/.test(raw) || Number(raw) > max) {
    throw new UsageError(`--${flag} must be an integer from 0 to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function parseSeedFlags(args: readonly string[]): Command {
  const options: SeedOptions = { ...DEFAULT_SEED };
  let reset = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    // `npm run seed -- --users 5` passes the flags alone, but a literal `--` from a direct call is harmless.
    if (arg === '--') {
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) {
      throw new UsageError(`unexpected argument "${arg}"`);
    }
    const [, flag, inline] = match;
    if (flag === 'help') {
      return { name: 'help' };
    }
    if (flag === 'reset') {
      if (inline !== undefined) {
        throw new UsageError('--reset takes no value');
      }
      reset = true;
    } else if (Object.hasOwn(SEED_FLAGS, flag)) {
      options[flag as CountFlag] = parseCount(flag as CountFlag, inline ?? args[++i]);
    } else {
      throw new UsageError(`unknown flag --${flag}`);
    }
  }
  if (options.characters > 0 && options.users === 0) {
    throw new UsageError('--users must be at least 1 when --characters is above 0 (characters need owners)');
  }
  if (options.images > 0 && options.characters === 0) {
    throw new UsageError(
      '--characters must be at least 1 when --images is above 0 (images belong to characters)',
    );
  }
  return { name: 'seed', options, reset };
}

/** Parses the arguments after the script name (process.argv.slice(2)); throws UsageError naming what is wrong. */
export function parseArgs(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      throw new UsageError('missing command');
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' };
    case 'migrate':
      if (rest.some((a) => a !== '--')) {
        throw new UsageError(`migrate takes no arguments, got "${rest.join(' ')}"`);
      }
      return { name: 'migrate' };
    case 'seed':
      return parseSeedFlags(rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/**
 * The app reads `.env` through ConfigModule; the CLI reads the same file, so `npm run seed` targets the database
 * the app would use. Variables already in the environment win, as they do for the app.
 */
function withDotEnv(env: NodeJS.ProcessEnv, cwd: string): NodeJS.ProcessEnv {
  const file = resolve(cwd, '.env');
  return existsSync(file) ? { ...parseEnv(readFileSync(file, 'utf8')), ...env } : env;
}

/**
 * The `databaseConfig` factory reads process.env, as registerAs factories do. `main` takes its environment as an
 * argument (the tests run it in-process), so the factory sees that environment for the duration of the call.
 */
function loadDatabaseConfig(env: NodeJS.ProcessEnv): DatabaseConfig {
  const saved = process.env;
  process.env = env;
  try {
    return databaseConfig();
  } finally {
    process.env = saved;
  }
}

/** Where the data goes, for the log line: never the credentials in DATABASE_URL. */
function describeTarget(config: DatabaseConfig): string {
  if (!config.url) {
    return `PGlite at ${resolve(config.pgliteDir)}`;
  }
  const url = new URL(config.url);
  return `PostgreSQL ${url.hostname}:${url.port || '5432'}${url.pathname}`;
}

async function withDataSource<T>(config: DatabaseConfig, fn: (db: DataSource) => Promise<T>): Promise<T> {
  // Migrations run explicitly below (and report what they did), not as a side effect of initialize().
  const db = new DataSource(buildDataSourceOptions({ ...config, migrate: false }));
  try {
    await db.initialize();
    return await fn(db);
  } finally {
    if (db.isInitialized) {
      await db.destroy();
    }
    // The embedded PGlite outlives the pool; left open, it flushes nothing and keeps the process alive.
    await closeEmbeddedPostgres(db);
  }
}

async function migrate(db: DataSource): Promise<string[]> {
  const applied = await db.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}

/** Runs a parsed command; returns the process exit code. */
export async function run(command: Command, env: NodeJS.ProcessEnv, output: CliOutput): Promise<number> {
  if (command.name === 'help') {
    output.out(USAGE);
    return EXIT_OK;
  }
  const config = loadDatabaseConfig(env);
  const target = describeTarget(config);
  const started = performance.now();
  return withDataSource(config, async (db) => {
    const applied = await migrate(db);
    const migrated = applied.length > 0 ? `applied ${applied.join(', ')}` : 'no pending migrations';
    if (command.name === 'migrate') {
      output.out(`migrate: ${migrated} on ${target} in ${Math.round(performance.now() - started)} ms`);
      return EXIT_OK;
    }
    const summary = await seedDatabase(db, command.options, await seedPasswordHash(env), {
      reset: command.reset,
    });
    output.out(
      `seed: ${summary.users} users, ${summary.characters} characters, ${summary.images} images ` +
        `(seed ${command.options.seed}${command.reset ? ', after reset' : ''}) on ${target} in ${summary.ms} ms ` +
        `(${Math.round(performance.now() - started)} ms in all; ${migrated})`,
    );
    return EXIT_OK;
  });
}

/**
 * The whole command: arguments and environment in, exit code out (0 done, 1 failed, 2 bad arguments).
 * Exported so tests call it in-process; the process entry point is the guarded call at the bottom.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  output: CliOutput = consoleOutput,
  cwd: string = process.cwd(),
): Promise<number> {
  let command: Command;
  try {
    command = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(`error: ${error.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    throw error;
  }
  try {
    return await run(command, withDotEnv(env, cwd), output);
  } catch (error) {
    if (error instanceof DatabaseNotEmptyError) {
      output.err(`seed refused: ${error.message}`);
    } else {
      // Configuration errors name the variable (never its value); anything else is reported as it came.
      output.err(`${command.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return EXIT_FAILED;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = EXIT_FAILED;
    },
  );
}
