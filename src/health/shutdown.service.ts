import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { HealthConfig } from '../config';

/**
 * The service's side of a graceful shutdown. Nest runs it as: beforeApplicationShutdown (here: readiness turns
 * 503 at once; Terminus then waits SHUTDOWN_DRAIN_MS while requests are still served) → HTTP close (no new
 * connections, in-flight requests finish, idle keep-alive sockets closed) → onApplicationShutdown (Redis and
 * PostgreSQL close). Each step is logged when it really happens, so the order can be read from the logs.
 */
@Injectable()
export class ShutdownService implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private readonly drainMs: number;
  private readonly closeMs: number;
  private draining = false;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @InjectDataSource() private readonly dataSource: DataSource,
    config: ConfigService,
  ) {
    ({ drainMs: this.drainMs, closeMs: this.closeMs } = config.getOrThrow<HealthConfig>('health'));
  }

  /** True from the moment shutdown begins: readiness answers 503. */
  get isDraining(): boolean {
    return this.draining;
  }

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // While draining, every answer closes its connection: clients (and proxies) reconnect elsewhere instead of
    // keeping a socket to a pod that is about to go, and no keep-alive socket holds the close up.
    // A callback hook, not an async one: it runs on every response, and a promise per response shows in profiles.
    fastify.addHook('onSend', (_request, reply, payload, done) => {
      if (this.draining) {
        void reply.header('connection', 'close');
      }
      done(null, payload);
    });
    fastify.addHook('preClose', (done) => {
      this.logger.log(`HTTP server closing: no new connections, in-flight requests get ${this.closeMs} ms to finish`);
      const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
      const cut = setTimeout(() => {
        this.logger.warn('Requests still open after SHUTDOWN_CLOSE_MS: their connections are cut');
        server.closeAllConnections();
      }, this.closeMs);
      cut.unref();
      server.once('close', () => clearTimeout(cut));
      done();
    });
  }

  onApplicationBootstrap(): void {
    (this.adapterHost.httpAdapter.getHttpServer() as Server).once('close', () =>
      this.logger.log('HTTP server closed'),
    );
    const pool = (this.dataSource.driver as unknown as { master?: Pool }).master;
    pool?.on('remove', () => {
      if (pool.ending && pool.totalCount === 0) {
        this.logger.log('PostgreSQL connections closed');
      }
    });
  }

  beforeApplicationShutdown(signal?: string): void {
    this.draining = true;
    const drain = signal === 'SIGTERM' && this.drainMs > 0 ? `serving for ${this.drainMs} ms, then ` : '';
    this.logger.log(
      `Shutdown (${signal ?? 'close'}): readiness answers 503; ${drain}HTTP closes, then Redis and PostgreSQL`,
    );
  }
}
