import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CacheRead, CacheResult, CacheService, ReadFreshness, RecentMap } from '../cache';
import { sendCached } from './cached-response';

/** What an anonymous GET of one URL was answered from: its cached reads, which of them is the body, and headers. */
export interface Recorded {
  reads: readonly CacheRead[];
  body: number;
  headers: [name: string, value: string][];
}

/** URLs remembered at most (those not used lately out first); a URL longer than this is never remembered. */
const MAX_URLS = 20_000;
const MAX_URL_LENGTH = 2_048;

/**
 * Answers anonymous GETs of routes marked `@ReplayFromCache()` straight from the cache, in the first Fastify
 * `onRequest` hook (see createApp): after routing and the request id, before middleware, Nest's guards, pipes,
 * interceptors and handler. The HTTP cache interceptor records how it answered a URL; the next request for that
 * URL is replayed when every cached read behind the answer is still fresh and holds the same bytes (else Nest
 * answers it as usual, and the new answer is recorded). The index holds keys and hashes only, never bodies.
 * A replayed answer carries the same headers as Nest's (X-Request-Id included), is counted by the HTTP metrics
 * (Fastify `onResponse`) and logged like any request when request logs are on.
 */
@Injectable()
export class ResponseReplay {
  private readonly index = new RecentMap<string, Recorded>(MAX_URLS / 2);
  /** Requests answered here, and requests for a remembered URL that Nest had to answer (an entry changed). */
  readonly counts = { replayed: 0, passed: 0 };

  constructor(private readonly cache: CacheService) {}

  /** The `onRequest` hook: answers the request, or calls `done()` to let it go on to Nest. */
  onRequest(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const recorded = replayable(request) ? this.index.get(request.url) : undefined;
    if (!recorded) {
      done();
      return;
    }
    // Most replays are L1 hits whose tags are known locally: answered without a promise.
    const hits: CacheResult<unknown>[] = [];
    for (const read of recorded.reads) {
      const hit = this.cache.peekFreshSync(read);
      if (hit === null) {
        this.counts.passed++;
        done();
        return;
      }
      if (hit === undefined) {
        break;
      }
      hits.push(hit);
    }
    if (hits.length === recorded.reads.length) {
      this.counts.replayed++;
      this.send(recorded, hits, request, reply);
      return;
    }
    // The rest needs Redis or a tag-version read: go on where the synchronous pass stopped.
    this.replayRest(recorded, hits, request, reply, done);
  }

  remember(request: FastifyRequest, recorded: Recorded): void {
    if (replayable(request) && request.url.length <= MAX_URL_LENGTH) {
      this.index.set(request.url, recorded);
    }
  }

  /**
   * The reads the synchronous pass could not settle, one after another, then the answer — or `done()` as soon as
   * one is missing, stale or changed. Written as a `then` chain, not an async function: this runs for every
   * replay that needs Redis, and each await and async frame adds promises (and promise hooks) per request.
   */
  private replayRest(recorded: Recorded, hits: CacheResult<unknown>[], request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const pass = () => {
      this.counts.passed++;
      done();
    };
    this.cache.peekFresh(recorded.reads[hits.length]).then((hit) => {
      if (!hit) {
        pass();
      } else if (hits.push(hit) < recorded.reads.length) {
        this.replayRest(recorded, hits, request, reply, done);
      } else {
        try {
          this.send(recorded, hits, request, reply);
          this.counts.replayed++;
        } catch {
          // The answer could not be built: Nest answers instead, as for any request not replayed.
          pass();
        }
      }
    }, pass);
  }

  private send(recorded: Recorded, hits: CacheResult<unknown>[], request: FastifyRequest, reply: FastifyReply): void {
    hits.forEach((hit, i) => this.cache.metrics.get(recorded.reads[i].namespace, hit.source === 'l1' ? 'l1' : 'l2', 'hit'));
    void reply.header('x-request-id', request.id);
    for (const [name, value] of recorded.headers) {
      void reply.header(name, value);
    }
    const body = hits[recorded.body];
    const payload = sendCached(request, reply, body.envelope!, body.source, hits.length > 1 ? freshnessOf(hits) : undefined);
    void reply.send(payload ?? '');
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
function replayable(request: FastifyRequest): boolean {
  return request.method === 'GET' && request.headers.authorization === undefined;
}
