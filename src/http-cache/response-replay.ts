import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CacheRead, CacheResult, CacheService, ReadFreshness, RecentMap } from '../cache';
import type { CorsPolicy } from '../common/http/cors';
import { handedOn } from '../common/http/hand-off';
import { requestId } from '../logging/request-log';
import { CachedAnswer, cachedAnswer, JSON_CONTENT_TYPE } from './cached-response';

/** What an anonymous GET of one URL was answered from: its cached reads, which of them is the body, and headers. */
export interface Recorded {
  reads: readonly CacheRead[];
  body: number;
  headers: [name: string, value: string][];
  /** The route template, for the HTTP metrics. */
  route: string;
}

/**
 * What a replayed answer needs from the rest of the server (wired by createApp): the CORS policy, whether the
 * server is draining (then Fastify answers, and closes the connection), and where an answered request is
 * counted and logged — the same metrics and log line as a request Fastify answered.
 */
export interface ReplayEdge {
  cors?: CorsPolicy;
  draining(): boolean;
  answered(req: IncomingMessage, id: string, route: string, status: number, xCache: string, elapsedMs: number): void;
}

/** Fastify's request handler: where a request goes that is not replayed. */
type Next = (req: IncomingMessage, res: ServerResponse) => void;

/** One request being replayed: what it was recorded from, the reads settled so far, and where else it can go. */
interface Attempt {
  recorded: Recorded;
  hits: CacheResult<unknown>[];
  req: IncomingMessage;
  res: ServerResponse;
  started: number;
  next: Next;
}

/** URLs remembered at most (those not used lately out first); a URL longer than this is never remembered. */
const MAX_URLS = 20_000;
const MAX_URL_LENGTH = 2_048;

/**
 * Answers anonymous GETs of routes marked `@ReplayFromCache()` straight from the cache, in the HTTP server's
 * request listener, before Fastify (see createApp): no Fastify request or reply, no routing, no hooks, none of
 * Nest's middleware, guards, pipes, interceptors or handler. The HTTP cache interceptor records how it answered
 * a URL; the next request for that URL is replayed when every cached read behind the answer is still fresh and
 * holds the same bytes (else Fastify and Nest answer it as usual, and the new answer is recorded). The index
 * holds keys and hashes only, never bodies. A replayed answer carries the same headers as Nest's (X-Request-Id
 * and CORS included), and is counted by the HTTP metrics and logged like any request (ReplayEdge.answered).
 */
@Injectable()
export class ResponseReplay {
  private readonly index = new RecentMap<string, Recorded>(MAX_URLS / 2);
  /** Requests answered here, and requests for a remembered URL that Nest had to answer (an entry changed). */
  readonly counts = { replayed: 0, passed: 0 };

  private edge: ReplayEdge = { draining: () => false, answered: () => undefined };

  constructor(private readonly cache: CacheService) {}

  /** Wires in what replayed answers need from the server (createApp, once it has them). */
  connect(edge: ReplayEdge): void {
    this.edge = edge;
  }

  /**
   * The server's request listener in front of Fastify: answers the request, or hands it to `next` (Fastify's
   * handler) untouched — at once, or after the reads that need Redis, if one of them is missing or changed.
   */
  handle(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const recorded = replayable(req) ? this.index.get(req.url!) : undefined;
    if (!recorded || this.edge.draining()) {
      next(req, res);
      return;
    }
    const started = performance.now();
    let hits: CacheResult<unknown>[] | null;
    try {
      hits = this.settledSync(recorded);
    } catch {
      // Whatever went wrong, Fastify and Nest answer as for any request not replayed: nothing escapes here.
      hits = null;
    }
    if (hits === null) {
      this.counts.passed++;
      next(req, res);
    } else if (hits.length === recorded.reads.length) {
      this.answer({ recorded, hits, req, res, started, next });
    } else {
      // The rest needs Redis or a tag-version read: go on where the synchronous pass stopped.
      this.replayRest({ recorded, hits, req, res, started, next });
    }
  }

  remember(request: FastifyRequest, recorded: Recorded): void {
    if (replayable(request.raw) && request.url.length <= MAX_URL_LENGTH) {
      this.index.set(request.url, recorded);
    }
  }

  /**
   * The recorded reads L1 can settle alone, in order, up to the first it cannot (most replays are L1 hits whose
   * tags are known locally: answered without a promise); null as soon as one is stale or changed.
   */
  private settledSync(recorded: Recorded): CacheResult<unknown>[] | null {
    const hits: CacheResult<unknown>[] = [];
    for (const read of recorded.reads) {
      const hit = this.cache.peekFreshSync(read);
      if (hit === null) {
        return null;
      }
      if (hit === undefined) {
        break;
      }
      hits.push(hit);
    }
    return hits;
  }

  /**
   * The reads the synchronous pass could not settle, all started at once (from Redis, those of one replay go out
   * together, in one MGET under load: see RedisTier.get), then the answer — or `next` when one is missing, stale
   * or changed, or a read fails. Written with `then`, not as an async function: this runs for every replay that
   * needs Redis, and each await and async frame adds promises (and promise hooks) per request.
   */
  private replayRest(attempt: Attempt): void {
    const { recorded, hits } = attempt;
    const pass = () => this.pass(attempt);
    const settle = (found: readonly (CacheResult<unknown> | undefined)[]) => {
      for (const hit of found) {
        if (!hit) {
          pass();
          return;
        }
        hits.push(hit);
      }
      this.answer(attempt);
    };
    try {
      if (recorded.reads.length - hits.length === 1) {
        this.cache.peekFresh(recorded.reads[hits.length]).then((hit) => settle([hit]), pass);
      } else {
        Promise.all(recorded.reads.slice(hits.length).map((read) => this.cache.peekFresh(read))).then(settle, pass);
      }
    } catch {
      pass();
    }
  }

  /**
   * Not replayed after all: Fastify and Nest answer, as for any other request. The time spent here (reading Redis)
   * is counted in the request's duration and log line (see handedOn).
   */
  private pass({ req, res, next, started }: Attempt): void {
    this.counts.passed++;
    handedOn(req, performance.now() - started);
    next(req, res);
  }

  /** Sends the answer; if it cannot be built, Fastify answers instead, as for any request not replayed. */
  private answer(attempt: Attempt): void {
    const { recorded, hits, req, res, started } = attempt;
    if (res.headersSent || res.destroyed) {
      // The client went away while Redis was read, or the request was answered meanwhile (a timeout).
      return;
    }
    let id: string;
    let answer: CachedAnswer;
    try {
      id = requestId(req);
      const body = hits[recorded.body];
      answer = cachedAnswer(req.headers, body.envelope!, body.source, hits.length > 1 ? freshnessOf(hits) : undefined);
      const headers: string[] = [];
      for (const [name, value] of recorded.headers) {
        headers.push(name, value);
      }
      const cors = this.edge.cors;
      if (cors) {
        for (const [name, value] of cors.headersFor(req.headers.origin)) {
          headers.push(name, value);
        }
      }
      headers.push(
        'x-request-id', id,
        'etag', answer.etag,
        'vary', cors ? 'Origin, Authorization' : 'Authorization',
        'x-cache', answer.xCache,
        'cache-control', answer.cacheControl,
      );
      if (answer.body) {
        headers.push('content-type', JSON_CONTENT_TYPE, 'content-length', String(answer.body.length));
      }
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    } catch {
      if (!res.headersSent) {
        this.pass(attempt);
      }
      return;
    }
    this.counts.replayed++;
    hits.forEach((hit, i) => this.cache.metrics.get(recorded.reads[i].namespace, hit.source === 'l1' ? 'l1' : 'l2', 'hit'));
    this.edge.answered(req, id, recorded.route, answer.status, answer.xCache, performance.now() - started);
  }
}

/** The earliest fresh-until and stale-until of the entries an answer is built from (see ReadFreshness). */
function freshnessOf(hits: readonly CacheResult<unknown>[]): ReadFreshness {
  let freshUntil = Infinity;
  let staleUntil = Infinity;
  for (const { envelope } of hits) {
    freshUntil = Math.min(freshUntil, envelope!.header.f);
    staleUntil = Math.min(staleUntil, envelope!.header.s);
  }
  return { freshUntil, staleUntil, stale: false };
}

/** Only GETs without credentials: an answer for one signed-in viewer is never replayed, not even to them. */
function replayable(req: IncomingMessage): boolean {
  return req.method === 'GET' && req.headers.authorization === undefined;
}
