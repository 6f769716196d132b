import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Counter } from 'prom-client';
import { REFUSALS, type Refusal } from '../common/errors/framework-errors';
import { waitedBeforeFastify } from '../common/http/hand-off';
import { cacheLabel, methodLabel, routeLabel } from './http-labels';
import { MetricsRegistry } from './metrics.registry';
import { counter, followedCounter } from './prom-helpers';
import { RequestHistogram } from './request-histogram';

/**
 * `http_request_duration_seconds` by method, route template, status and cache outcome.
 *
 * The interceptor times every request that reaches a handler (`handled`), errors included. The observation
 * itself is made when the response is sent (Fastify `onResponse`), because only then are the final status (set
 * by the exception filter for errors) and the `X-Cache` header (set by the HTTP cache layer, whatever the order
 * of interceptors) known. Requests that never reach a handler — unmatched routes, guard refusals, unparsable
 * bodies — are observed too, with Fastify's own elapsed time. A request the cache replay handed on after reading
 * Redis also counts the time it waited there (waitedBeforeFastify).
 *
 * Requests refused before any route, by Node's HTTP parser (clientErrorHandler) or Fastify's router
 * (frameworkErrors), reach no hook, so they are counted apart, in `http_requests_refused_total`.
 */
@Injectable()
export class HttpMetrics implements OnModuleInit {
  private readonly duration: RequestHistogram<'method' | 'route' | 'status' | 'cache'>;
  private readonly handledSeconds = new WeakMap<FastifyRequest, number>();
  private readonly refusals: Counter<'status' | 'code'>;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly registry: MetricsRegistry,
  ) {
    this.duration = new RequestHistogram(
      'http_request_duration_seconds',
      'HTTP request duration, by method, route template, status and cache outcome (X-Cache)',
      ['method', 'route', 'status', 'cache'],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registry.registry,
    );
    this.refusals = counter(
      registry.registry,
      'http_requests_refused_total',
      "Requests refused before any route, so in no other HTTP metric, by status and code: 400 BAD_URL (not validly percent-encoded), 414 URI_TOO_LONG (a path segment over 100 characters), 400 BAD_REQUEST (not valid HTTP), 408 REQUEST_TIMEOUT (not received within REQUEST_TIMEOUT_MS), 431 HEADERS_TOO_LARGE (request line and headers over 16 KB)",
      ['status', 'code'],
    );
    // Every series from the first scrape, at 0: one that first appears holding 1 hides that refusal from increase().
    for (const { status, code } of Object.values(REFUSALS)) {
      this.refusals.inc({ status: String(status), code }, 0);
    }
  }

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onResponse', (request, reply, done) => {
      const seconds = (this.handledSeconds.get(request) ?? reply.elapsedTime / 1000) + waitedBeforeFastify(request.raw) / 1000;
      const cache = reply.getHeader('x-cache');
      this.observe(request.method, request.routeOptions.url, reply.statusCode, typeof cache === 'string' ? cache : '', seconds);
      done();
    });
  }

  /** One answered request; also called by ResponseReplay for the cache hits it answers before Fastify. */
  observe(method: string, route: string | undefined, status: number, cache: string, seconds: number): void {
    // Raw inputs name the series (bounded: Node's parser knows a fixed set of methods, routes are templates,
    // X-Cache is ours); the labels are derived from them once per name.
    this.duration.observe(
      `${method} ${route} ${status} ${cache}`,
      () => ({ method: methodLabel(method), route: routeLabel(route), status: String(status), cache: cacheLabel(cache) }),
      seconds,
    );
  }

  /**
   * `http_replays_total{result}`: anonymous GETs of a remembered URL answered from the cache before Fastify
   * (`replayed`), and those handed on to Nest (`passed`): an entry behind the answer changed, went stale or is
   * gone, Redis could not be read, or the answer could not be built. Requests of a draining server go to Fastify
   * uncounted. Read at scrape time from the replay's own counts (see ResponseReplay).
   */
  followReplays(counts: Readonly<Record<'replayed' | 'passed', number>>): void {
    followedCounter(
      this.registry.registry,
      'http_replays_total',
      'Anonymous GETs of a remembered URL: answered from the cache before Fastify (replayed), or handed on to Nest because an entry behind the answer changed, went stale, is gone or could not be read (passed)',
      ['result'],
      () => Object.entries(counts),
      (result) => ({ result }),
    );
  }

  /** One request refused before any route, as it was answered (its status and code are one of REFUSALS). */
  refused(status: Refusal['status'], code: Refusal['code']): void {
    this.refusals.inc({ status: String(status), code });
  }

  /** Called by the interceptor when the handler's observable ends, with or without an error. */
  handled(request: FastifyRequest, seconds: number): void {
    this.handledSeconds.set(request, seconds);
  }
}
