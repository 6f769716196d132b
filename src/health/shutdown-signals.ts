import { INestApplication, Logger } from '@nestjs/common';

/** After the hooks: how long connections they closed may take to finish closing before the process exits anyway. */
const EXIT_GRACE_MS = 2_000;

/**
 * SIGTERM / SIGINT close the app (readiness 503, drain on SIGTERM, HTTP, then Redis and PostgreSQL: see
 * ShutdownService) and end the process with exit code 0.
 *
 * Used instead of `app.enableShutdownHooks()`, whose handler either re-raises the signal once the hooks are done
 * (the process then dies of SIGTERM, not with code 0) or calls `process.exit(0)` the moment they return — before
 * the sockets they closed have finished closing (ioredis's `quit()` resolves before its socket closes, pg-pool's
 * `end()` calls back before its clients have ended). Here the process exits when nothing is left open, or after
 * EXIT_GRACE_MS at the latest. A second signal during the shutdown is ignored.
 */
export function exitOnShutdownSignals(app: INestApplication): void {
  // Nest's close() passes the signal on to the hooks (Terminus drains on SIGTERM only); its interface omits it.
  const close = (signal: string) =>
    (app as unknown as { close(signal?: string): Promise<void> }).close(signal);
  const logger = new Logger('Shutdown');
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn(`${signal} ignored: already shutting down`);
      return;
    }
    closing = true;
    close(signal).then(
      () => {
        process.exitCode = 0;
        setTimeout(() => {
          // Everything the hooks close should be closed by now: say what was not, so it can be found.
          const open = process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap');
          logger.warn(`Exiting ${EXIT_GRACE_MS} ms after the shutdown hooks, with these still open: ${open.join(', ')}`);
          process.exit(0);
        }, EXIT_GRACE_MS).unref();
      },
      (error: unknown) => {
        logger.error(
          `Shutdown failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
