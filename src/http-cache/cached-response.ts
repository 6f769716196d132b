import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CacheSource, Envelope, ReadFreshness } from '../cache';
import { addVary } from '../common/http/cors';

const X_CACHE: Record<CacheSource, string> = {
  l1: 'HIT-L1',
  l2: 'HIT-L2',
  miss: 'MISS',
  stale: 'STALE',
};

/** How a read answered from a cache entry is sent; `body` is undefined for a 304. */
export interface CachedAnswer {
  status: 200 | 304;
  etag: string;
  xCache: string;
  cacheControl: string;
  body: Buffer | undefined;
}

/** The content type of every cached answer: entries hold JSON. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** `If-None-Match` holds our ETag (or `*`): the client's copy is current. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) {
    return false;
  }
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * A read answered from a cache entry: its ETag (the entry's content hash), where it came from, how long it may be
 * kept, and its body — the entry's stored JSON bytes, or nothing (status 304) when the client's `If-None-Match`
 * already names them. `freshness` is that of every entry the answer was built from (the body's and those it was
 * checked against); without it, the body entry's own. It always varies by `Authorization`.
 */
export function cachedAnswer(
  headers: { authorization?: string; 'if-none-match'?: string },
  envelope: Envelope,
  source: CacheSource,
  freshness?: ReadFreshness,
): CachedAnswer {
  const etag = `"${envelope.header.h}"`;
  const { f, s } = envelope.header;
  const good = freshness ?? { freshUntil: f, staleUntil: s, stale: source === 'stale' };
  const current = matches(headers['if-none-match'], etag);
  return {
    status: current ? 304 : 200,
    etag,
    xCache: X_CACHE[source],
    cacheControl: cacheControl(headers.authorization !== undefined, good),
    body: current ? undefined : envelope.payload,
  };
}

/** `cachedAnswer` on a Fastify reply: sets its status and headers and returns the body to send. */
export function sendCached(
  request: FastifyRequest,
  reply: FastifyReply,
  envelope: Envelope,
  source: CacheSource,
  freshness?: ReadFreshness,
): Buffer | undefined {
  const answer = cachedAnswer(request.headers, envelope, source, freshness);
  void reply.header('ETag', answer.etag);
  addVary(reply, 'Authorization');
  void reply.header('X-Cache', answer.xCache);
  void reply.header('Cache-Control', answer.cacheControl);
  if (answer.status === 304) {
    void reply.status(304);
    return undefined;
  }
  void reply.header('Content-Type', JSON_CONTENT_TYPE);
  return answer.body;
}

/**
 * How long a shared cache (a CDN) or a browser may keep an anonymous answer without asking again, and serve it
 * stale while it does, at most. Our own entries live for minutes, and a write evicts them at once; a copy
 * downstream cannot be evicted, so it must not outlive a write by more than this (a character made private or
 * deleted stays visible there that long). The ETag makes asking again cheap: a 304 from the replay.
 */
export const MAX_SHARED_AGE_S = 60;
export const MAX_SHARED_STALE_S = 60;

function cacheControl(authorized: boolean, { freshUntil, staleUntil, stale }: ReadFreshness): string {
  if (authorized) {
    return 'private, no-cache';
  }
  const now = Date.now();
  const maxAge = stale ? 0 : Math.min(MAX_SHARED_AGE_S, Math.max(0, Math.floor((freshUntil - now) / 1000)));
  const grace = Math.max(0, Math.floor((staleUntil - Math.max(now, freshUntil)) / 1000));
  // While the origin fails (5xx), a copy may be served for the whole grace, as this service itself would.
  return `public, max-age=${maxAge}, stale-while-revalidate=${Math.min(MAX_SHARED_STALE_S, grace)}, stale-if-error=${grace}`;
}
