import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createApp } from './app.setup';
import type { Logger as PinoInstance } from 'pino';
import { AppConfig, ConfigurationError, loggingConfig } from './config';
import { exitOnShutdownSignals } from './health/shutdown-signals';
import { alreadyLogged, loggedByNest } from './logging/boot-logger';
import { rootLogger } from './logging/logging.module';

async function bootstrap(): Promise<void> {
  const app = await createApp();
  // Shutdown hooks run on SIGTERM / SIGINT (instead of app.enableShutdownHooks(): see exitOnShutdownSignals).
  exitOnShutdownSignals(app);
  const { port, host } = app.get(ConfigService).getOrThrow<AppConfig>('app');
  // A port already taken: Nest logs it (as text) and rejects.
  await app.listen(port, host).catch(loggedByNest);
  Logger.log(`Listening on http://${host}:${port} (OpenAPI at /docs)`, 'Bootstrap');
  // The last line of a shutdown (the logger writes synchronously, so it is not lost).
  process.once('exit', (code) => Logger.log(`Exiting with code ${code}`, 'Shutdown'));
}

/**
 * One line for a boot that failed, in the logs' JSON: a configuration error as the variables it names (no stack:
 * the operator's to fix, not a bug), anything else with its stack, unless Nest already logged it.
 */
function reportBootFailure(error: unknown): void {
  if (alreadyLogged(error)) {
    return;
  }
  let logger: PinoInstance;
  try {
    logger = rootLogger(loggingConfig());
  } catch {
    // The logging settings themselves are wrong (and named in the error): nothing to write JSON with.
    console.error(error instanceof Error ? error.message : error);
    return;
  }
  if (error instanceof ConfigurationError) {
    logger.fatal({ context: 'Bootstrap', problems: error.problems }, error.message);
  } else {
    logger.fatal({ context: 'Bootstrap', err: error }, error instanceof Error ? error.message : String(error));
  }
}

bootstrap().catch((error: unknown) => {
  reportBootFailure(error);
  process.exit(1);
});
