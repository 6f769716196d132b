import { Logger } from '@nestjs/common';

/** Logs each distinct message at most once per interval, with a count of what it held back. */
export class RateLimitedLogger {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  warn(message: string): void {
    this.write('warn', message);
  }

  error(message: string): void {
    this.write('error', message);
  }

  private write(level: 'warn' | 'error', message: string): void {
    const now = Date.now();
    const seen = this.last.get(message);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    const suffix = seen?.suppressed ? ` (${seen.suppressed} more since last logged)` : '';
    this.last.set(message, { at: now, suppressed: 0 });
    this.logger[level](`${message}${suffix}`);
  }
}
