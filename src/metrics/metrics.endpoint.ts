import {
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig, MetricsConfig } from '../config';
import { errorBody } from '../common/errors/api-error';
import { MetricsRegistry } from './metrics.registry';

interface MetricsAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * GET /metrics, protected as configured: on a port of its own (METRICS_PORT, a plain HTTP listener that answers
 * nothing else), and/or behind a bearer token (METRICS_TOKEN). On the main port it is a bare Fastify route: the
 * app's JWT guard must not read the metrics token as a user token, and scrapes are not business requests.
 */
@Injectable()
export class MetricsEndpoint implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private readonly config: MetricsConfig;
  private readonly host: string;
  private readonly tokenDigest: Buffer | null;
  private server: Server | null = null;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly registry: MetricsRegistry,
    config: ConfigService,
  ) {
    this.config = config.getOrThrow<MetricsConfig>('metrics');
    this.host = config.getOrThrow<AppConfig>('app').host;
    this.tokenDigest = this.config.token ? digest(this.config.token) : null;
  }

  /** The port of the metrics listener, once it listens (METRICS_PORT=0 picks a free one). */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  onModuleInit(): void {
    if (this.config.exposure === 'off') {
      this.logger.warn('GET /metrics is not served: set METRICS_PORT (a port of its own) or METRICS_TOKEN');
      return;
    }
    if (this.config.exposure !== 'main-port') {
      return;
    }
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.get('/metrics', async (request, reply) => {
      const answer = await this.answer(request.headers.authorization);
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.exposure !== 'own-port') {
      return;
    }
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      const found = path === '/metrics' && (request.method === 'GET' || request.method === 'HEAD');
      const pending: Promise<MetricsAnswer> = found
        ? this.answer(request.headers.authorization)
        : Promise.resolve(json(404, 'NOT_FOUND', 'Only GET /metrics is served on this port'));
      void pending.then((answer) => response.writeHead(answer.status, answer.headers).end(answer.body));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.host, () => resolve());
    });
    this.server = server;
    this.logger.log(`GET /metrics on port ${this.port}${this.tokenDigest ? ' (bearer token)' : ''}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) {
      return;
    }
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  private async answer(authorization: string | undefined): Promise<MetricsAnswer> {
    if (!this.authorized(authorization)) {
      const denied = json(
        401,
        'METRICS_TOKEN_REQUIRED',
        'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>',
      );
      return { ...denied, headers: { ...denied.headers, 'www-authenticate': 'Bearer' } };
    }
    let body: string;
    try {
      body = await this.registry.metrics();
    } catch (error) {
      // A collector that throws costs this scrape, never the process (an unhandled rejection on the metrics
      // port) nor a hung scrape; what failed goes to the log, not to the scraper.
      this.logger.error(`Metrics collection failed: ${error instanceof Error ? error.message : String(error)}`);
      return json(500, 'METRICS_UNAVAILABLE', 'Metrics could not be collected; see the service log');
    }
    return { status: 200, headers: { 'content-type': this.registry.contentType, 'cache-control': 'no-store' }, body };
  }

  private authorized(authorization: string | undefined): boolean {
    if (!this.tokenDigest) {
      return true;
    }
    const match = /^Bearer (.+)$/.exec(authorization ?? '');
    // Digests have one length whatever was sent, so the comparison takes constant time.
    return match !== null && timingSafeEqual(digest(match[1]), this.tokenDigest);
  }
}

/** The app's error shape (`errorBody`), outside Nest's pipeline. */
function json(status: number, code: string, message: string): MetricsAnswer {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(errorBody(status, code, message)),
  };
}
