import { cacheConfig } from './cache.config';
import { appConfig } from './app.config';
import { authConfig, parseSeconds } from './auth.config';
import { IsBoolean, IsOptional } from 'class-validator';
import { databaseConfig } from './database.config';
import { storageConfig } from './storage.config';
import { EnvBoolean, validateEnv } from './validate-env';
import { webhooksConfig } from './webhooks.config';

describe('configuration', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  const withEnv = (env: Record<string, string | undefined>) => {
    process.env = { ...saved, ...env };
  };

  it('has working defaults for development', () => {
    withEnv({ NODE_ENV: 'development', PORT: undefined, DATABASE_URL: undefined });
    expect(appConfig()).toMatchObject({ port: 3000, production: false });
    expect(databaseConfig()).toMatchObject({ embedded: true, migrate: true });
  });

  it('names the bad variable, never its value', () => {
    withEnv({ PORT: 'eighty' });
    expect(() => appConfig()).toThrow(/PORT/);
    withEnv({ JWT_SECRET: 'short-secret-value' });
    expect(() => authConfig()).toThrow(/JWT_SECRET must be at least 32 characters/);
    expect(() => authConfig()).not.toThrow(/short-secret-value/);
    withEnv({ DATABASE_URL: 'mysql://x' });
    expect(() => databaseConfig()).toThrow(/DATABASE_URL/);
  });

  it('reads CORS_ORIGINS as exact origins, and refuses anything with a path, a wildcard or another scheme', () => {
    withEnv({ CORS_ORIGINS: undefined });
    expect(appConfig().corsOrigins).toEqual([]);
    withEnv({ CORS_ORIGINS: 'https://Cards.example.com, http://localhost:5173' });
    expect(appConfig().corsOrigins).toEqual(['https://cards.example.com', 'http://localhost:5173']);
    for (const bad of ['https://cards.example.com/', 'https://cards.example.com/app', '*', 'cards.example.com', 'ftp://x', 'https://a.com,,https://b.com']) {
      withEnv({ CORS_ORIGINS: bad });
      expect(() => appConfig()).toThrow(/CORS_ORIGINS/);
    }
  });

  it('refuses the development secrets in production', () => {
    withEnv({ NODE_ENV: 'production', JWT_SECRET: undefined });
    expect(() => authConfig()).toThrow(/JWT_SECRET: must be set to a real secret/);
    withEnv({ NODE_ENV: 'production', BILLING_WEBHOOK_SECRET: undefined, GENERATOR_WEBHOOK_SECRET: 'g'.repeat(32) });
    expect(() => webhooksConfig()).toThrow(/BILLING_WEBHOOK_SECRET/);
    withEnv({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40) });
    expect(authConfig().jwtSecret).toBe('p'.repeat(40));
  });

  it('reads durations', () => {
    expect(parseSeconds('90')).toBe(90);
    expect(parseSeconds('15m')).toBe(900);
    expect(parseSeconds('12h')).toBe(43_200);
    expect(parseSeconds('7d')).toBe(604_800);
    expect(() => parseSeconds('1w')).toThrow();
  });

  it('turns on migrations for a real database only when asked', () => {
    withEnv({ DATABASE_URL: 'postgres://u@h/db', DB_MIGRATE: undefined });
    expect(databaseConfig()).toMatchObject({ embedded: false, migrate: false });
    withEnv({ DATABASE_URL: 'postgres://u@h/db', DB_MIGRATE: 'true' });
    expect(databaseConfig().migrate).toBe(true);
    withEnv({ DB_MIGRATE: 'yes' });
    expect(() => databaseConfig()).toThrow(/DB_MIGRATE/);
  });

  it('reads a boolean as the variable says, even on a property typed boolean', () => {
    // With implicit conversion, a property typed `boolean` is converted before EnvBoolean runs: "false" would
    // reach it as Boolean("false"), true. SERVE_LOCAL_CDN was such a property: "false" served the uploads anyway.
    class Flags {
      @IsOptional()
      @EnvBoolean()
      @IsBoolean()
      TYPED?: boolean;
    }
    expect(validateEnv(Flags, { TYPED: 'false' }).TYPED).toBe(false);
    expect(validateEnv(Flags, { TYPED: 'true' }).TYPED).toBe(true);
    expect(validateEnv(Flags, {}).TYPED).toBeUndefined();
    for (const bad of ['yes', '0', '1', 'False', '']) {
      expect(() => validateEnv(Flags, { TYPED: bad })).toThrow(/TYPED/);
    }
  });

  it('serves the uploads from the app only where asked: SERVE_LOCAL_CDN=false turns it off', () => {
    withEnv({ NODE_ENV: 'development', STORAGE_DRIVER: 'local', SERVE_LOCAL_CDN: undefined });
    expect(storageConfig().serveLocal).toBe(true);
    withEnv({ NODE_ENV: 'development', STORAGE_DRIVER: 'local', SERVE_LOCAL_CDN: 'false' });
    expect(storageConfig().serveLocal).toBe(false);
    withEnv({ NODE_ENV: 'production', STORAGE_DRIVER: 'local', SERVE_LOCAL_CDN: 'false', CDN_SIGNING_KEY: 'k'.repeat(40) });
    expect(storageConfig().serveLocal).toBe(false);
    withEnv({ NODE_ENV: 'production', STORAGE_DRIVER: 'local', SERVE_LOCAL_CDN: 'true', CDN_SIGNING_KEY: 'k'.repeat(40) });
    expect(storageConfig().serveLocal).toBe(true);
    withEnv({ SERVE_LOCAL_CDN: 'no' });
    expect(() => storageConfig()).toThrow(/SERVE_LOCAL_CDN/);
  });

  it('refuses a variable set but empty where that would read as 0 or replace a default, and names it', () => {
    for (const [name, load] of [
      ['PORT', appConfig],
      ['HOST', appConfig],
      ['PGLITE_DIR', databaseConfig],
      ['STORAGE_LOCAL_DIR', storageConfig],
    ] as const) {
      for (const blank of ['', '  ']) {
        withEnv({ NODE_ENV: 'development', [name]: blank });
        expect(() => load()).toThrow(new RegExp(`${name}: is set but empty`));
      }
    }
    // Where the default is empty or unset, an empty value means just that.
    withEnv({ NODE_ENV: 'development', CORS_ORIGINS: '' });
    expect(appConfig().corsOrigins).toEqual([]);
  });
  it('refuses a Redis or database URL the drivers cannot parse, naming the variable and never the password', () => {
    for (const url of ['redis://:Ab/Secret+x=@127.0.0.1:6379', 'redis://:Ab#Secret@127.0.0.1:6379', 'redis://:Secret@127.0.0.1:notaport', 'redis://:Secret@127.0.0.1:99999', 'http://127.0.0.1:6379']) {
      withEnv({ NODE_ENV: 'development', REDIS_URL: url });
      expect(() => cacheConfig()).toThrow(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL that parses/);
      expect(() => cacheConfig()).not.toThrow(/Secret/);
    }
    withEnv({ NODE_ENV: 'development', REDIS_URL: 'redis://:Ab%2FSecret%2Bx%3D@127.0.0.1:6379' });
    expect(cacheConfig().redis).toBeDefined();
    for (const url of ['postgres://postgres:Pw%zzSecret@127.0.0.1:5432/db', 'postgres://postgres:Secret@127.0.0.1:99999/db', 'mysql://u@h/db']) {
      withEnv({ NODE_ENV: 'development', DATABASE_URL: url });
      expect(() => databaseConfig()).toThrow(/DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL that parses/);
      expect(() => databaseConfig()).not.toThrow(/Secret/);
    }
  });

  it('refuses to run production on an embedded database of its own', () => {
    withEnv({ NODE_ENV: 'production', DATABASE_URL: undefined });
    expect(() => databaseConfig()).toThrow(/DATABASE_URL: must be set when NODE_ENV=production/);
    withEnv({ NODE_ENV: 'production', DATABASE_URL: 'postgres://app@db:5432/cards' });
    expect(databaseConfig().embedded).toBe(false);
  });
});
