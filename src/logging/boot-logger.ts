import type { LoggerService } from '@nestjs/common';
import type { Level, Logger as PinoInstance } from 'pino';

/**
 * Nest's logger while the app is being created, before its own (nestjs-pino, through DI) exists: the same JSON
 * lines, written as they come. Nest's alternative, `bufferLogs`, holds every line until the app is created: a
 * boot that waits on an unreachable database (TypeORM retries for ~30 s) printed nothing all that time, then
 * flushed the lot through Nest's default logger as coloured text that log pipelines cannot parse.
 */
/** Errors a BootLogger has written: Nest logs an error that stops its boot, then hands it to the caller too. */
const written = new WeakSet<Error>();

/** Whether Nest already logged this error (through a BootLogger, or see `loggedByNest`) before it reached the caller. */
export const alreadyLogged = (error: unknown): boolean => error instanceof Error && written.has(error);

/** For the errors Nest logs as text of its own before rethrowing them (`app.listen`'s): not to be logged again. */
export function loggedByNest(error: unknown): never {
  if (error instanceof Error) {
    written.add(error);
  }
  throw error;
}

export class BootLogger implements LoggerService {
  constructor(private readonly pino: PinoInstance) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  /** Nest's calling convention: `(message, context)`, and for errors `(message, stack, context)`. */
  private write(level: Level, message: unknown, rest: unknown[]): void {
    const context = rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const stack = level === 'error' && typeof rest[0] === 'string' ? rest[0] : undefined;
    if (message instanceof Error) {
      written.add(message);
      this.pino[level]({ context, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ context, ...message });
    } else {
      this.pino[level]({ context, ...(stack ? { stack } : {}) }, String(message));
    }
  }
}
