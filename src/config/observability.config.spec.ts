import { healthConfig } from './health.config';
import { loggingConfig } from './logging.config';
import { metricsConfig } from './metrics.config';

describe('health, metrics and logging configuration', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });
  const withEnv = (env: Record<string, string | undefined>) => {
    process.env = { ...saved, METRICS_PORT: undefined, METRICS_TOKEN: undefined, ...env };
  };

  it('has defaults that fit a probe budget of 1 s, and a drain plus close below a 30 s grace period', () => {
    withEnv({});
    expect(healthConfig()).toEqual({
      dbTimeoutMs: 500,
      redisTimeoutMs: 250,
      redisSlowMs: 100,
      sampleIntervalMs: 5_000,
      hitRatioWindowMs: 300_000,
      drainMs: 5_000,
      closeMs: 10_000,
    });
    expect(loggingConfig()).toEqual({ level: 'info', requests: true });
  });

  it('serves /metrics on its own port, on the main port with a token, and never openly on a production main port', () => {
    withEnv({ NODE_ENV: 'development' });
    expect(metricsConfig().exposure).toBe('main-port');
    withEnv({ NODE_ENV: 'production' });
    expect(metricsConfig().exposure).toBe('off');
    withEnv({ NODE_ENV: 'production', METRICS_TOKEN: 't'.repeat(20) });
    expect(metricsConfig().exposure).toBe('main-port');
    withEnv({ NODE_ENV: 'production', METRICS_PORT: '9464' });
    expect(metricsConfig()).toMatchObject({ exposure: 'own-port', port: 9464 });
    withEnv({ METRICS_PORT: '' });
    expect(metricsConfig().port).toBeUndefined();
  });

  it('names the bad variable, never its value', () => {
    withEnv({ METRICS_TOKEN: 'short-token' });
    expect(() => metricsConfig()).toThrow(/METRICS_TOKEN must be at least 16 characters/);
    expect(() => metricsConfig()).not.toThrow(/short-token/);
    withEnv({ METRICS_PORT: '70000' });
    expect(() => metricsConfig()).toThrow(/METRICS_PORT/);
    withEnv({ PORT: '8080', METRICS_PORT: '8080' });
    expect(() => metricsConfig()).toThrow(/METRICS_PORT: must differ from PORT/);
    withEnv({ PORT: undefined, METRICS_PORT: '3000' });
    expect(() => metricsConfig()).toThrow(/METRICS_PORT: must differ from PORT/);
    withEnv({ PORT: '', METRICS_PORT: '3000' });
    expect(metricsConfig().port).toBe(3000);
    withEnv({ PORT: '0', METRICS_PORT: '0' });
    expect(metricsConfig().port).toBe(0);
    withEnv({ SHUTDOWN_DRAIN_MS: 'soon' });
    expect(() => healthConfig()).toThrow(/SHUTDOWN_DRAIN_MS/);
    withEnv({ LOG_LEVEL: 'verbose' });
    expect(() => loggingConfig()).toThrow(/LOG_LEVEL must be one of/);
    withEnv({ LOG_REQUESTS: 'yes' });
    expect(() => loggingConfig()).toThrow(/LOG_REQUESTS/);
  });
});
