import type { FastifyInstance } from 'fastify';

/**
 * Every route's path pattern and methods, as Fastify registers them: for answering 405 Method Not Allowed, with
 * `Allow`, to a method a known path does not take (Fastify alone answers 404, as for a path that does not exist).
 */
export class RouteTable {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];
  private readonly byUrl = new Map<string, Set<string>>();

  /** Records the routes registered on `instance` from now on (call it before any is). */
  watch(instance: FastifyInstance): void {
    instance.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      let known = this.byUrl.get(route.url);
      if (!known) {
        known = new Set();
        this.byUrl.set(route.url, known);
        this.routes.push({ pattern: toPattern(route.url), methods: known });
      }
      methods.forEach((m) => known.add(m.toUpperCase()));
    });
  }

  /** The methods some route takes at `path` (without its query), sorted; empty when no route matches it. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) {
      if (route.pattern.test(path)) {
        route.methods.forEach((m) => methods.add(m));
      }
    }
    return [...methods].sort();
  }
}

/** `/characters/:id/images` → ^/characters/[^/]+/images/?$ ; a trailing `*` takes the rest of the path. */
function toPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}
