import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { addVary, type CorsPolicy } from '../http/cors';
import { requestIdFrom } from '../../logging/request-log';
import { errorBody } from './api-error';

/**
 * Fastify's `frameworkErrors`: a URL its router cannot decode (`/characters/%zz`) or a path parameter over its
 * length limit is refused before any route, so Nest's exception filter never sees it, and no hook runs for it
 * (`onRequest` before, `onResponse` after: neither the request log nor the request metrics see it). Answered here
 * in the one error shape, uncacheable like every other error, and with the headers those hooks give every other
 * answer: the request id, and CORS (for an allowed origin; Vary: Origin for all). Then given to `sink()`, as the
 * requests Node's parser refuses are (see `clientErrorHandler`).
 */
export function frameworkErrors(cors: CorsPolicy | undefined, sink: () => RefusalSink | undefined) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const { status, code, message }: Refusal =
      error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? REFUSALS.uriTooLong : REFUSALS.badUrl;
    void reply.header('x-request-id', request.id);
    if (cors) {
      addVary(reply, 'Origin');
      for (const [name, value] of cors.headersFor(request.headers.origin)) {
        void reply.header(name, value);
      }
    }
    void reply
      .status(status)
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(JSON.stringify(errorBody(status, code, message)));
    sink()?.({ reqId: request.id, statusCode: status, code, remoteAddress: request.raw.socket?.remoteAddress });
  };
}

/**
 * Every answer given to a request refused before any route, by what refused it: Fastify's router
 * (`frameworkErrors`), or Node's parser (`clientErrorHandler`). A fixed set, so what counts refusals can name each
 * of them before the first one (and never labels anything taken from the request).
 */
export const REFUSALS = {
  badUrl: { status: 400, code: 'BAD_URL', message: 'The URL is not validly percent-encoded' },
  uriTooLong: { status: 414, code: 'URI_TOO_LONG', message: 'A path segment of the URL is too long' },
  malformed: { status: 400, code: 'BAD_REQUEST', message: 'The request is not valid HTTP' },
  timeout: { status: 408, code: 'REQUEST_TIMEOUT', message: 'The request was not received in time' },
  headersTooLarge: {
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    message: 'The request line and headers are too large',
  },
} as const;

export type Refusal = (typeof REFUSALS)[keyof typeof REFUSALS];

/** A request refused before any route, as it was answered. */
export interface RefusedRequest {
  reqId: string;
  statusCode: Refusal['status'];
  code: Refusal['code'];
  remoteAddress: string | undefined;
}

/**
 * What the app does with a request refused before any route, besides answering it: it counts it, and logs it when
 * requests are logged. One sink, since both need the app built, after these handlers are given to Fastify.
 */
export type RefusalSink = (refused: RefusedRequest) => void;

/** How much of a refused request is searched for its headers: Node's whole header limit is 16 KB. */
const MAX_SCANNED_BYTES = 65_536;

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (a malformed request line, headers over the
 * size limit, both Content-Length and Transfer-Encoding, or one not received in time) never becomes a request at
 * all. Fastify's default answers in a shape of its own with no `code`; this answers as every route does, with a
 * request id and, for an allowed origin, CORS: a browser whose cookies outgrew the header limit gets a 431 its page
 * can read and report, instead of an opaque network error. Then it closes the connection, as Node does.
 * `sink()` is read per refusal: the logger and the metrics exist only once the app is built, after this handler is
 * given to Fastify. A connection already reset is neither answered nor counted: nobody is left to refuse.
 */
export function clientErrorHandler(cors: CorsPolicy | undefined, sink: () => RefusalSink | undefined) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    // A reset connection has nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) {
      return;
    }
    const { status, code, message }: Refusal =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? REFUSALS.timeout
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? REFUSALS.headersTooLarge
          : REFUSALS.malformed;
    // The data the parser failed on (none for a timeout): its last chunk read, which for a request sent in one
    // piece (a browser's, headers and all) is the whole head. Enough for the two headers the answer depends on.
    // (Fastify's types call it `{ type, data }`, its JSON form; Node hands over the Buffer.)
    const raw = (error as { rawPacket?: unknown }).rawPacket;
    const sent = Buffer.isBuffer(raw) ? receivedHeaders(raw, ['origin', 'x-request-id']) : new Map<string, string>();
    const reqId = requestIdFrom(sent.get('x-request-id'));
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nX-Request-Id: ${reqId}\r\n`;
    if (cors) {
      head += 'Vary: Origin\r\n';
      for (const [name, value] of cors.headersFor(sent.get('origin'))) {
        head += `${name}: ${value}\r\n`;
      }
    }
    const body = JSON.stringify(errorBody(status, code, message));
    if (socket.writable) {
      socket.write(
        `${head}Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    sink()?.({ reqId, statusCode: status, code, remoteAddress: socket.remoteAddress });
    socket.destroy(error);
  };
}

/**
 * The value of each of `names` (lower case) among the complete header lines of raw request bytes; a name sent
 * twice counts as not sent (which one would a server trust?). The first line is taken for the request line (or, in
 * a later chunk, a line cut at its start) and the last for one cut off where the bytes end: neither is read, since
 * a truncated Origin could be a prefix of another origin.
 */
function receivedHeaders(raw: Buffer, names: readonly string[]): Map<string, string> {
  const text = raw.toString('latin1', 0, Math.min(raw.length, MAX_SCANNED_BYTES));
  const lines = text.split('\r\n');
  // The request line first; the last piece is either empty (the head ended) or a line cut off.
  lines.shift();
  lines.pop();
  const found = new Map<string, string>();
  const twice = new Set<string>();
  for (const line of lines) {
    if (line === '') {
      break;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    if (!names.includes(name)) {
      continue;
    }
    if (found.has(name)) {
      twice.add(name);
    }
    found.set(name, line.slice(colon + 1).trim());
  }
  twice.forEach((name) => found.delete(name));
  return found;
}
