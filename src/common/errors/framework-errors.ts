import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { addVary, type CorsPolicy } from '../http/cors';
import { errorBody } from './api-error';

/**
 * Fastify's `frameworkErrors`: a URL its router cannot decode (`/characters/%zz`) or a path parameter over its
 * length limit is refused before any route, so Nest's exception filter never sees it, and no `onRequest` hook has
 * run either. Answered here in the one error shape, uncacheable like every other error, and with the headers those
 * hooks give every other answer: the request id, and CORS (for an allowed origin; Vary: Origin for all).
 */
export function frameworkErrors(cors: CorsPolicy | undefined) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
    const [code, message] =
      error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? ['URI_TOO_LONG', 'A path segment of the URL is too long']
        : ['BAD_URL', 'The URL is not validly percent-encoded'];
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
  };
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (a malformed request line, headers over the
 * size limit, both Content-Length and Transfer-Encoding) never becomes a request at all. Fastify's default answers
 * in a shape of its own with no `code`; this answers as every route does, then closes the connection as Node does.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    return;
  }
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'The request was not received in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'The request line and headers are too large']
        : [400, 'BAD_REQUEST', 'The request is not valid HTTP'];
  const body = JSON.stringify(errorBody(status, code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
