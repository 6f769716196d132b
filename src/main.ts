import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createApp } from './app.setup';
import { AppConfig } from './config';
import { exitOnShutdownSignals } from './health/shutdown-signals';

async function bootstrap(): Promise<void> {
  const app = await createApp();
  // Shutdown hooks run on SIGTERM / SIGINT (instead of app.enableShutdownHooks(): see exitOnShutdownSignals).
  exitOnShutdownSignals(app);
  const { port, host } = app.get(ConfigService).getOrThrow<AppConfig>('app');
  await app.listen(port, host);
  Logger.log(`Listening on http://${host}:${port} (OpenAPI at /docs)`, 'Bootstrap');
  // The last line of a shutdown (the logger writes synchronously, so it is not lost).
  process.once('exit', (code) => Logger.log(`Exiting with code ${code}`, 'Shutdown'));
}

bootstrap().catch((error: unknown) => {
  // A configuration error names the variable; print it plainly and stop.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
