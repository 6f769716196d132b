import type { FastifyReply, FastifyRequest } from 'fastify';

const ALLOW_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const ALLOW_HEADERS = 'Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id';
/** What a frontend reads beyond the CORS-safelisted headers: the validator, the cache verdict, the request id. */
const EXPOSE_HEADERS = 'ETag, X-Cache, X-Request-Id, Retry-After';
/** How long a browser may reuse a preflight answer. */
const PREFLIGHT_MAX_AGE_S = '600';

/** Adds `field` to the response's `Vary` header instead of replacing what an earlier step put there. */
export function addVary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  void reply.header('Vary', typeof current === 'string' && current !== '' ? `${current}, ${field}` : field);
}

/**
 * CORS for the frontends in CORS_ORIGINS. Every answer varies by `Origin` then, since it carries the allowed
 * origin or nothing: a shared cache must not hand one origin's answer to another. An allowed origin may read the
 * answer and the headers in EXPOSE_HEADERS; a preflight from it is answered with what it may send.
 */
export class CorsPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    this.allowed = new Set(origins);
  }

  /** The CORS headers of an answer (not a preflight) to a request from `origin`, Vary excepted. */
  headersFor(origin: string | undefined): [name: string, value: string][] {
    return origin !== undefined && this.allowed.has(origin)
      ? [
          ['access-control-allow-origin', origin],
          ['access-control-expose-headers', EXPOSE_HEADERS],
        ]
      : [];
  }

  /**
   * The first `onRequest` hook: ahead of errors and everything Nest does, so every answer a browser gets says
   * whether its origin may read it. A preflight from an allowed origin is answered here (204). Replayed cache
   * hits never reach Fastify; ResponseReplay adds the same headers to them.
   */
  hook() {
    return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      addVary(reply, 'Origin');
      const origin = request.headers.origin;
      if (origin === undefined || !this.allowed.has(origin)) {
        done();
        return;
      }
      if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
        void reply
          .code(204)
          .header('Access-Control-Allow-Origin', origin)
          .header('Access-Control-Allow-Methods', ALLOW_METHODS)
          .header('Access-Control-Allow-Headers', ALLOW_HEADERS)
          .header('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_S)
          .send();
        return;
      }
      for (const [name, value] of this.headersFor(origin)) {
        void reply.header(name, value);
      }
      done();
    };
  }
}
