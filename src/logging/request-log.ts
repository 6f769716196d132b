import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as PinoInstance } from 'pino';

/** Incoming ids are accepted only in this shape: bounded, and nothing that could forge a log line. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Query parameters whose values never reach a log line (signed CDN URLs, tokens handed over in links). */
const SECRET_PARAM = /sig|signature|token|secret|password|key|auth|code/i;

/** Paths asked so often, by machines, that a line per request would drown the rest. */
const QUIET_PATHS = ['/health', '/metrics'];

/**
 * The request id: the caller's `X-Request-Id` when it is well formed, else a new UUID. Fastify calls this for
 * every request (`genReqId`); pino-http and Nest's logger then use the same id, and it is echoed on the response.
 */
export function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** The path and query of a URL with the values of secret-looking query parameters masked. */
export function safeUrl(url: string | undefined): string {
  if (!url) {
    return '';
  }
  const at = url.indexOf('?');
  if (at < 0) {
    return url;
  }
  const query = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=')[0];
      return SECRET_PARAM.test(decodeURIComponentSafe(name)) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, at)}?${query.join('&')}`;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Not valid percent-encoding: judge the name as it was sent.
    return text;
  }
}

/** Health probes and scrapes (`originalUrl`: middleware mounted on a path sees `url` without it). */
export function isQuietPath(req: IncomingMessage & { originalUrl?: string }): boolean {
  const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
  return QUIET_PATHS.some((quiet) => path === quiet || path.startsWith(`${quiet}/`));
}

/**
 * What a request log line says about the request and the response: never headers (Authorization, cookies,
 * signatures), never bodies.
 */
export const requestSerializers = {
  req: (req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }) => ({
    id: req.id,
    method: req.method,
    url: safeUrl(req.url),
    remoteAddress: req.remoteAddress,
  }),
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
};

/**
 * pino-http's closing line (`request completed`, with `reqId`, `req`, `res`, `responseTime`), for requests that
 * are answered before the middleware runs (replayed cache hits), so the request log misses none of them.
 */
export function completedRequestLine(logger: PinoInstance): (request: FastifyRequest, reply: FastifyReply) => void {
  return (request, reply) =>
    logger.info(
      {
        reqId: request.id,
        req: requestSerializers.req({
          id: request.id,
          method: request.method,
          url: request.raw.url,
          remoteAddress: request.raw.socket?.remoteAddress,
        }),
        res: requestSerializers.res(reply.raw),
        responseTime: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
}
