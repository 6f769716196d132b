import { ApiError } from '../errors/api-error';

/** What `If-Match` asks for: a version (`"7"`, `W/"7"`, `7`) or an ETag as sent by a GET (`"<content hash>"`). */
export type IfMatch = { version: number } | { etag: string };

/**
 * Reads `If-Match`. Absent → undefined (no precondition). Anything else malformed is a 400 naming the header,
 * rather than a silently ignored precondition.
 */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined || header === '') {
    return undefined;
  }
  const value = header.trim();
  const version = /^(?:W\/)?"?(\d{1,9})"?$/.exec(value);
  if (version) {
    return { version: Number(version[1]) };
  }
  if (/^"[A-Za-z0-9_-]{8,64}"$/.test(value)) {
    return { etag: value };
  }
  throw ApiError.badRequest('If-Match', 'If-Match must carry the version, e.g. "3", or the ETag of a GET');
}
