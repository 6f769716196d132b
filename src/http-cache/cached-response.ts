import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CacheSource, Envelope, ReadFreshness } from '../cache';
import { addVary } from '../common/http/cors';

const X_CACHE: Record<CacheSource, string> = {
  l1: 'HIT-L1',
  l2: 'HIT-L2',
  miss: 'MISS',
  stale: 'STALE',
};

/** `If-None-Match` holds our ETag (or `*`): the client's copy is current. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) {
    return false;
  }
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * The headers of a read answered from a cache entry, and its body: the entry's stored JSON bytes, or nothing
 * (status 304) when the client's `If-None-Match` already names them. `freshness` is that of every entry the
 * answer was built from (the body's and those it was checked against); without it, the body entry's own.
 */
export function sendCached(
  request: FastifyRequest,
  reply: FastifyReply,
  envelope: Envelope,
  source: CacheSource,
  freshness?: ReadFreshness,
): Buffer | undefined {
  const etag = `"${envelope.header.h}"`;
  void reply.header('ETag', etag);
  addVary(reply, 'Authorization');
  void reply.header('X-Cache', X_CACHE[source]);
  const { f, s } = envelope.header;
  const good = freshness ?? { freshUntil: f, staleUntil: s, stale: source === 'stale' };
  void reply.header('Cache-Control', cacheControl(request, good));
  if (matches(request.headers['if-none-match'], etag)) {
    void reply.status(304);
    return undefined;
  }
  void reply.header('Content-Type', 'application/json; charset=utf-8');
  return envelope.payload;
}

function cacheControl(request: FastifyRequest, { freshUntil, staleUntil, stale }: ReadFreshness): string {
  if (request.headers.authorization !== undefined) {
    return 'private, no-cache';
  }
  const now = Date.now();
  const maxAge = stale ? 0 : Math.max(0, Math.floor((freshUntil - now) / 1000));
  const swr = Math.max(0, Math.floor((staleUntil - Math.max(now, freshUntil)) / 1000));
  return `public, max-age=${maxAge}, stale-while-revalidate=${swr}`;
}
