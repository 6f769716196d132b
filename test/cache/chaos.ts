import type { RedisClient } from '../../src/cache/redis/redis-clients';

export interface ChaosSettings {
  /** probability that a command throws instead of running */
  throwRate: number;
  /** delay before a command runs: fixed ms, or [min, max] for a random one */
  delayMs: number | [number, number];
  /** delay before a bus message is handed to the cache */
  busDelayMs: number;
  /** delay between Redis' answer and the caller seeing it (the command itself runs at once) */
  replyDelayMs?: number;
  /** methods whose commands always fail, whatever `throwRate` says (`del`, `getBuffer`, …) */
  failing?: string[];
}

const COMMANDS = new Set(['getBuffer', 'mgetBuffer', 'set', 'del', 'eval', 'evalsha', 'hmget', 'publish', 'ping']);

/**
 * Wraps a real ioredis client: commands may be delayed or fail, bus messages may arrive late. Settings can be
 * changed while a test runs; `calls` counts commands that reached the wrapper (to see what the breaker skips).
 */
export class Chaos {
  calls = 0;
  /** Commands that ran (after any injected failure), by method name: `getBuffer`, `eval`, … */
  readonly commands: string[] = [];
  settings: ChaosSettings = { throwRate: 0, delayMs: 0, busDelayMs: 0 };

  wrap(client: RedisClient): RedisClient {
    return new Proxy(client, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') {
          return value;
        }
        if (prop === 'on') {
          return (event: string, listener: (...args: unknown[]) => void) =>
            target.on(event, event === 'message' ? (...args: unknown[]) => void this.later(() => listener(...args)) : listener);
        }
        if (typeof prop === 'string' && COMMANDS.has(prop)) {
          return async (...args: unknown[]) => {
            this.calls++;
            await this.pause();
            if (Math.random() < this.settings.throwRate || this.settings.failing?.includes(prop)) {
              throw new Error('chaos: injected failure (connection reset)');
            }
            this.commands.push(prop);
            const answer: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
            if (this.settings.replyDelayMs) {
              await new Promise((resolve) => setTimeout(resolve, this.settings.replyDelayMs));
            }
            return answer;
          };
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
  }

  private async pause(): Promise<void> {
    const { delayMs } = this.settings;
    const ms = Array.isArray(delayMs) ? delayMs[0] + Math.random() * (delayMs[1] - delayMs[0]) : delayMs;
    if (ms > 0) {
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  }

  private async later(deliver: () => void): Promise<void> {
    if (this.settings.busDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.settings.busDelayMs));
    }
    deliver();
  }
}
