import { appConfig } from './app.config';
import { authConfig } from './auth.config';
import { cacheConfig } from './cache.config';
import { databaseConfig } from './database.config';
import { healthConfig } from './health.config';
import { loggingConfig } from './logging.config';
import { metricsConfig } from './metrics.config';
import { storageConfig } from './storage.config';
import { webhooksConfig } from './webhooks.config';
import { ConfigurationError } from './validate-env';

export * from './app.config';
export * from './auth.config';
export * from './cache.config';
export * from './database.config';
export * from './health.config';
export * from './logging.config';
export * from './metrics.config';
export * from './storage.config';
export * from './webhooks.config';
export { ConfigurationError } from './validate-env';

/** Every configuration namespace, validated when ConfigModule loads them (never at import time). */
export const configNamespaces = [
  appConfig,
  databaseConfig,
  authConfig,
  cacheConfig,
  storageConfig,
  webhooksConfig,
  healthConfig,
  metricsConfig,
  loggingConfig,
];

/**
 * Validates every namespace before the app is created, and reports every problem of every namespace in one
 * ConfigurationError: an operator fixes them all in one go, and Nest never sees (and logs, with a stack) a
 * configuration mistake.
 */
export function validateConfiguration(): void {
  const problems: string[] = [];
  for (const load of configNamespaces) {
    try {
      load();
    } catch (error) {
      if (!(error instanceof ConfigurationError)) {
        throw error;
      }
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) {
    throw new ConfigurationError(problems);
  }
}
