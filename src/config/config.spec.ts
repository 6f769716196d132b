import { appConfig } from './app.config';
import { authConfig, parseSeconds } from './auth.config';
import { databaseConfig } from './database.config';
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
});
