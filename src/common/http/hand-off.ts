import type { IncomingMessage } from 'node:http';

/**
 * How long a request waited in front of Fastify before it was handed on (ms): a cache replay that read Redis,
 * then found the entry changed or missing. Fastify's clock (`reply.elapsedTime`) and the metrics interceptor's
 * start only when Fastify gets the request, so the request's duration metric and closing log line add this.
 */
const waited = new WeakMap<IncomingMessage, number>();

export function handedOn(req: IncomingMessage, waitedMs: number): void {
  waited.set(req, waitedMs);
}

/** The wait recorded by `handedOn`, or 0 for a request Fastify got first-hand. */
export function waitedBeforeFastify(req: IncomingMessage): number {
  return waited.get(req) ?? 0;
}
