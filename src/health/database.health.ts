import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { HealthConfig } from '../config';

const TIMED_OUT = Symbol('timed-out');

/** An in-flight ping is shared by concurrent checks for this long; after that a hung one is given up on. */
const REUSE_PING_MS = 10_000;

/**
 * PostgreSQL: `SELECT 1`, bounded by HEALTH_DB_TIMEOUT_MS. Concurrent checks share one ping, so probes never pile
 * queries up on a database that hangs.
 *
 * On a PostgreSQL server the ping has a connection of its own, not one of the app's pool: when traffic holds every
 * pooled connection, the database is busy, not down, and a ping queued behind that traffic would time out and
 * take every pod out of the Service at once (an outage made by the probe). A connection that failed is dropped
 * and opened again by the next ping. The embedded PGlite serves one connection: there the pool's is used.
 */
@Injectable()
export class DatabaseHealthIndicator implements OnApplicationShutdown {
  private readonly timeoutMs: number;
  private inflight: { promise: Promise<number>; startedAt: number } | null = null;
  private probe: Probe | null = null;
  private closed = false;

  constructor(
    private readonly indicators: HealthIndicatorService,
    @InjectDataSource() private readonly dataSource: DataSource,
    config: ConfigService,
  ) {
    this.timeoutMs = config.getOrThrow<HealthConfig>('health').dbTimeoutMs;
  }

  async ping<const Key extends string>(key: Key): Promise<HealthIndicatorResult<Key>> {
    const session = this.indicators.check(key);
    if (!this.dataSource.isInitialized) {
      return session.down({ message: 'closed' });
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>(
      (resolve) => (timer = setTimeout(resolve, this.timeoutMs, TIMED_OUT)),
    );
    try {
      const result = await Promise.race([this.sharedPing(), timeout]);
      if (result === TIMED_OUT) {
        return session.down({ message: `no answer within ${this.timeoutMs} ms` });
      }
      return session.up({ latencyMs: result });
    } catch (error) {
      // The driver's message may name hosts and users; the code alone says what went wrong.
      const code = (error as { code?: unknown }).code;
      return session.down({ message: typeof code === 'string' ? `unreachable (${code})` : 'unreachable' });
    } finally {
      clearTimeout(timer);
    }
  }

  private sharedPing(): Promise<number> {
    const now = Date.now();
    if (this.inflight && now - this.inflight.startedAt < REUSE_PING_MS) {
      return this.inflight.promise;
    }
    const started = performance.now();
    const promise = this.select1()
      .then(() => Math.round((performance.now() - started) * 100) / 100)
      .finally(() => {
        if (this.inflight?.promise === promise) {
          this.inflight = null;
        }
      });
    this.inflight = { promise, startedAt: now };
    return promise;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const probe = this.probe;
    this.probe = null;
    if (!probe) {
      return;
    }
    // Bounded: `end` waits for the server to close its side, which a frozen server never does; the socket is then
    // destroyed, or it would keep the process alive.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      probe.client.end().then(() => true, () => true),
      new Promise<false>((resolve) => (timer = setTimeout(resolve, this.timeoutMs, false))),
    ]);
    clearTimeout(timer);
    if (!ended) {
      destroySocket(probe.client);
    }
  }

  private async select1(): Promise<unknown> {
    const url = 'url' in this.dataSource.options ? this.dataSource.options.url : undefined;
    if (!url || this.closed) {
      return this.dataSource.query('SELECT 1');
    }
    const probe = (this.probe ??= this.open(url));
    try {
      await probe.connected;
      return await probe.client.query('SELECT 1');
    } catch (error) {
      // Refused, timed out, or cut: the next ping starts from a new connection.
      this.drop(probe);
      throw error;
    }
  }

  private open(url: string): Probe {
    const client = new Client({
      connectionString: url,
      application_name: 'health-probe',
      connectionTimeoutMillis: this.timeoutMs,
      // A query the server never answers (frozen) fails on this side; the connection is dropped then.
      query_timeout: this.timeoutMs,
    });
    const probe: Probe = { client, connected: client.connect() };
    // A connection the server ends while idle (a restart, pg_terminate_backend, idle_session_timeout) is dropped
    // at once: the next ping opens a new one instead of failing on the dead one.
    client.on('error', () => this.drop(probe));
    client.on('end', () => this.drop(probe));
    return probe;
  }

  private drop(probe: Probe): void {
    if (this.probe === probe) {
      this.probe = null;
      void probe.client.end().catch(() => undefined);
    }
  }
}

interface Probe {
  client: Client;
  connected: Promise<unknown>;
}

/** What pg's own `end` does to a connection with a query in flight (its socket is not in the typings). */
function destroySocket(client: Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
