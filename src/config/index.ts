import { appConfig } from './app.config';
import { authConfig } from './auth.config';
import { cacheConfig } from './cache.config';
import { databaseConfig } from './database.config';
import { healthConfig } from './health.config';
import { loggingConfig } from './logging.config';
import { metricsConfig } from './metrics.config';
import { storageConfig } from './storage.config';
import { webhooksConfig } from './webhooks.config';

export * from './app.config';
export * from './auth.config';
export * from './cache.config';
export * from './database.config';
export * from './health.config';
export * from './logging.config';
export * from './metrics.config';
export * from './storage.config';
export * from './webhooks.config';

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
