import { cacheLabel, methodLabel, routeLabel, UNMATCHED_ROUTE } from './http-labels';

describe('HTTP metric labels', () => {
  it('map X-Cache to a bounded cache label, none when absent or unknown', () => {
    expect(cacheLabel('HIT-L1')).toBe('hit-l1');
    expect(cacheLabel('HIT-L2')).toBe('hit-l2');
    expect(cacheLabel('MISS')).toBe('miss');
    expect(cacheLabel('STALE')).toBe('stale');
    expect(cacheLabel(' miss ')).toBe('miss');
    expect(cacheLabel(undefined)).toBe('none');
    expect(cacheLabel('HIT from cloudfront')).toBe('none');
    expect(cacheLabel(['MISS', 'HIT-L1'])).toBe('none');
  });

  it('use the route template, a fixed label for unmatched routes, and a bounded method', () => {
    expect(routeLabel('/characters/:id')).toBe('/characters/:id');
    expect(routeLabel(undefined)).toBe(UNMATCHED_ROUTE);
    expect(routeLabel('')).toBe(UNMATCHED_ROUTE);
    expect(methodLabel('GET')).toBe('GET');
    expect(methodLabel('PROPFIND')).toBe('OTHER');
  });
});
