import { ApiError } from '../errors/api-error';

/**
 * What `If-Match` asks for (RFC 9110 §13.1.1): `*` (any current version), or a list of versions (`"7"`) and
 * ETags as sent by a GET (`"<content hash>"`), of which any one may match. A weak tag (`W/"7"`) is kept out of
 * both lists: If-Match compares strongly, so it never matches.
 */
export type IfMatch = { any: true } | { versions: number[]; etags: string[]; weak: number };

const VERSION = /^(?:"(\d{1,9})"|(\d{1,9}))$/;
const ETAG = /^"[A-Za-z0-9_-]{8,64}"$/;
const WEAK = /^W\/"(?:\d{1,9}|[A-Za-z0-9_-]{8,64})"$/;

/**
 * Reads `If-Match`. Absent → undefined (no precondition). A bare number (`7`) is taken as `"7"`, as it always
 * was. Anything that is not one of the forms above is a 400 naming the header, rather than a precondition
 * silently ignored or one that could never be met.
 */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined || header === '') {
    return undefined;
  }
  if (header.trim() === '*') {
    return { any: true };
  }
  const versions: number[] = [];
  const etags: string[] = [];
  let weak = 0;
  // Empty members (`"1", , "2"`) are allowed by the list syntax; repeated header lines arrive joined by ", ".
  const members = header
    .split(',')
    .map((member) => member.trim())
    .filter((member) => member !== '');
  for (const member of members) {
    const version = VERSION.exec(member);
    if (version) {
      versions.push(Number(version[1] ?? version[2]));
    } else if (ETAG.test(member)) {
      etags.push(member);
    } else if (WEAK.test(member)) {
      weak++;
    } else {
      throw ApiError.badRequest('If-Match', 'If-Match must be *, or versions ("3") or ETags as sent by a GET, separated by commas');
    }
  }
  if (members.length === 0) {
    throw ApiError.badRequest('If-Match', 'If-Match must name at least one version or ETag, or be *');
  }
  return { versions, etags, weak };
}
