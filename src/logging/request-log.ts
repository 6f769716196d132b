import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
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
  return requestIdFrom(req.headers['x-request-id']);
}

/** `requestId` from the header's value alone (a request Node's parser refused has no `headers` object). */
export function requestIdFrom(incoming: string | string[] | undefined): string {
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
 * The closing line of a request (`request completed`, or `request errored` at level error for a 5xx), with
 * `reqId`, `req`, `res` and `responseTime`: pino-http's shape. Written from Fastify's `onResponse` for requests
 * Fastify answered, and by ResponseReplay for the cache hits it answers before Fastify, so both get the same line.
 */
export function completedRequestLine(logger: PinoInstance): (req: IncomingMessage, id: string, statusCode: number, elapsedMs: number) => void {
  return (req, id, statusCode, elapsedMs) => {
    if (isQuietPath(req)) {
      return;
    }
    const failed = statusCode >= 500;
    logger[failed ? 'error' : 'info'](
      {
        reqId: id,
        req: requestSerializers.req({ id, method: req.method, url: req.url, remoteAddress: req.socket?.remoteAddress }),
        res: requestSerializers.res({ statusCode }),
        responseTime: Math.round(elapsedMs),
      },
      failed ? 'request errored' : 'request completed',
    );
  };
}

/**
 * The logger of one request: lines written while handling it carry its `reqId`. The pino child that adds it is
 * made on the first line, not per request: a child costs ~10 µs here (pino serializes its bindings and rebuilds
 * its level methods), and most requests write no line at all. pino-http made two per request, eagerly, with the
 * request as a binding: ~33 µs per request in a CPU profile of the cards mix (~5 % of the server's CPU).
 */
export function requestLogger(root: PinoInstance, reqId: string): PinoInstance {
  return new RequestLogger(root, reqId) as unknown as PinoInstance;
}

/** What nestjs-pino's PinoLogger and Fastify call on a request's logger; the child is made on first need. */
class RequestLogger {
  private made: PinoInstance | undefined;

  constructor(
    private readonly root: PinoInstance,
    private readonly reqId: string,
  ) {}

  private get logger(): PinoInstance {
    return (this.made ??= this.root.child({ reqId: this.reqId }));
  }

  get level(): string {
    return this.root.level;
  }

  isLevelEnabled(level: string): boolean {
    return this.root.isLevelEnabled(level);
  }

  child(bindings: Record<string, unknown>, options?: Parameters<PinoInstance['child']>[1]): ReturnType<PinoInstance['child']> {
    return this.logger.child(bindings, options);
  }

  bindings(): Record<string, unknown> {
    return this.logger.bindings();
  }

  setBindings(bindings: Record<string, unknown>): void {
    this.logger.setBindings(bindings);
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }

  error(...args: unknown[]): void {
    this.write('error', args);
  }

  warn(...args: unknown[]): void {
    this.write('warn', args);
  }

  info(...args: unknown[]): void {
    this.write('info', args);
  }

  debug(...args: unknown[]): void {
    this.write('debug', args);
  }

  trace(...args: unknown[]): void {
    this.write('trace', args);
  }

  silent(): void {}

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: unknown[]): void {
    // A line below the level never needs the child.
    if (this.root.isLevelEnabled(level)) {
      this.logger[level](...(args as Parameters<PinoInstance['info']>));
    }
  }
}
