import { SetMetadata } from '@nestjs/common';

export const REPLAY_FROM_CACHE = Symbol('REPLAY_FROM_CACHE');

export interface ReplayOptions {
  /** Response headers the handler sets itself that belong to the answer (e.g. `link`), replayed with it. */
  headers?: string[];
}

/**
 * Lets the HTTP cache layer answer this GET route before Fastify and Nest see the request (no hooks, middleware,
 * guards, pipes, interceptors, controller or service: see ResponseReplay), for callers without credentials, when
 * it answered the same URL before from cache entries that are all still fresh and unchanged.
 *
 * Put it only on a route whose anonymous answer is a function of the URL and of what it reads through the cache:
 * no uncached database reads, no other request headers, no clock. The layer checks the rest: every cached read
 * of the recorded answer (CacheContext.reads) must still hold the same bytes, and any read it could not see
 * (an uncached call, a batch read) makes the answer not replayable at all.
 */
export const ReplayFromCache = (options: ReplayOptions = {}) => SetMetadata(REPLAY_FROM_CACHE, options);
