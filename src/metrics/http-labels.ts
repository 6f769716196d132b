const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The label of requests no route matched: the raw URL would make one series per URL tried. */
export const UNMATCHED_ROUTE = 'unmatched';

/** `X-Cache` as set by the HTTP cache layer, as a bounded label. */
const CACHE_OUTCOMES: Record<string, string> = {
  'HIT-L1': 'hit-l1',
  'HIT-L2': 'hit-l2',
  MISS: 'miss',
  STALE: 'stale',
};

export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}

/** The route template (`/characters/:id`), never the URL. */
export function routeLabel(template: string | undefined): string {
  return template || UNMATCHED_ROUTE;
}

export function cacheLabel(header: unknown): string {
  const value = typeof header === 'string' ? header.trim().toUpperCase() : '';
  return CACHE_OUTCOMES[value] ?? 'none';
}
