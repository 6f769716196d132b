import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Observable } from 'rxjs';
import { map } from 'rxjs/operators';
import { CacheContext, CacheResult, contentHash } from '../cache';
import { addVary } from '../common/http/cors';
import { sendCached } from './cached-response';
import { REPLAY_FROM_CACHE, ReplayOptions } from './replay-from-cache.decorator';
import { ResponseReplay } from './response-replay';

/**
 * HTTP caching for the frontend, driven by the cache entries themselves. When a handler returns a value that
 * came from the cache (the very object — see CacheContext), the response:
 * - is the entry's stored JSON bytes, sent as they are (no parse, no re-stringify);
 * - carries `ETag` = the entry's content hash, and `If-None-Match` with it answers 304 with no body;
 * - says where it came from in `X-Cache` (HIT-L1, HIT-L2, MISS, STALE);
 * - is `Cache-Control: public, max-age=<remaining fresh time, ≤ 60 s>, stale-while-revalidate=<grace, ≤ 60 s>, stale-if-error=<grace>` for anonymous
 *   callers — of the least fresh of the entries the answer was built from, not only the body's (a gallery is
 *   kept no longer than the character it was checked against) — and `private, no-cache` when an Authorization
 *   header is sent (the answer may depend on who asks);
 *   `Vary: Authorization` always.
 * Writes that return a cached value (a character after an update) get its ETag too, and `no-store`; so do GET
 * answers not built from a cache entry, and (in AllExceptionsFilter) every error.
 * On routes marked `@ReplayFromCache()`, an anonymous answer built only from cache reads is recorded, so the
 * next request for the URL can be answered before Nest's pipeline (see ResponseReplay).
 */
@Injectable()
export class HttpCacheInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly replay: ResponseReplay,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') {
      return next.handle();
    }
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const replay = this.reflector.get<ReplayOptions | undefined>(REPLAY_FROM_CACHE, context.getHandler());
    return new Observable((subscriber) =>
      CacheContext.run(() =>
        next
          .handle()
          .pipe(map((body: unknown) => this.respond(body, request, reply, replay)))
          .subscribe(subscriber),
      ),
    );
  }

  private respond(body: unknown, request: FastifyRequest, reply: FastifyReply, replay: ReplayOptions | undefined): unknown {
    const result = CacheContext.resultFor(body);
    const envelope = result?.envelope;
    if (!result || !envelope) {
      // Not built from a cache entry: personal (`/users/me`), a load that overlapped a write and may predate it,
      // or caching disabled. Nothing downstream may keep it, unless the handler said otherwise. A cached answer's
      // ETag is its content hash: so is this one's, so If-Match works the same with caching off.
      if (result && !reply.hasHeader('etag')) {
        void reply.header('ETag', `"${contentHash(JSON.stringify(result.value))}"`);
        addVary(reply, 'Authorization');
      }
      if ((request.method === 'GET' || request.method === 'HEAD') && !reply.hasHeader('cache-control')) {
        void reply.header('Cache-Control', 'no-store');
        addVary(reply, 'Authorization');
      }
      return body;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      void reply.header('ETag', `"${envelope.header.h}"`);
      addVary(reply, 'Authorization');
      void reply.header('Cache-Control', 'no-store');
      return body;
    }
    if (replay) {
      this.record(request, reply, result, replay);
    }
    return sendCached(request, reply, envelope, result.source, CacheContext.freshness());
  }

  private record(request: FastifyRequest, reply: FastifyReply, result: CacheResult<unknown>, options: ReplayOptions): void {
    const reads = CacheContext.reads();
    const body = reads?.findIndex((read) => read.hash === result.envelope!.header.h) ?? -1;
    if (!reads || body < 0 || reply.statusCode !== 200) {
      return;
    }
    const headers = (options.headers ?? []).flatMap((name): [string, string][] => {
      const value = reply.getHeader(name);
      return typeof value === 'string' ? [[name.toLowerCase(), value]] : [];
    });
    this.replay.remember(request, { reads: [...reads], body, headers, route: request.routeOptions.url ?? '' });
  }
}
