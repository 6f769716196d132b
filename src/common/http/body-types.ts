import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { sendError } from '../errors/all-exceptions.filter';
import { errorBody, type ErrorDetail } from '../errors/api-error';

/** Fastify route config of the routes that take multipart/form-data (uploads) instead of JSON. */
const ACCEPTS_MULTIPART = { acceptsMultipart: true } as const;

/** On a route: its body is multipart/form-data (an upload), not JSON. */
export const AcceptsMultipart = (): MethodDecorator => RouteConfig(ACCEPTS_MULTIPART);

const METHODS_WITH_BODIES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Every route takes one type of body: JSON, or multipart on uploads. Anything else is refused with 415 before a
 * byte of it is read. Fastify alone parsed what it had a parser for on any route: text/plain reached JSON routes
 * as a string, and multipart (the app's parser, there for uploads) as nothing at all, and the route then blamed
 * the fields the client had sent ("name must be a string") or applied an empty change. A request without a body
 * (no Content-Length, or 0, and no Transfer-Encoding) is let through whatever it declares.
 */
export function acceptOnlyDeclaredBodies(instance: FastifyInstance): void {
  instance.addHook('onRequest', (request, reply, done) => {
    const { headers } = request;
    if (!METHODS_WITH_BODIES.has(request.method) || (headers['transfer-encoding'] === undefined && !(Number(headers['content-length'] ?? 0) > 0))) {
      done();
      return;
    }
    const encoding = headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      // Nothing here inflates bodies: a gzip body was read as (invalid) JSON, a plain one labelled gzip as JSON.
      const message = `Send the body without Content-Encoding (${encoding} is not accepted)`;
      void sendError(reply, errorBody(415, 'UNSUPPORTED_MEDIA_TYPE', message, [{ field: 'Content-Encoding', message }]));
      return;
    }
    const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const multipart = (request.routeOptions.config as { acceptsMultipart?: boolean } | undefined)?.acceptsMultipart === true;
    const detail: ErrorDetail | undefined = multipart
      ? type === 'multipart/form-data'
        ? undefined
        : { field: 'file', message: 'Send the image as multipart/form-data' }
      : type === 'application/json'
        ? undefined
        : { field: 'Content-Type', message: `Send the body as application/json, not ${type || 'an undeclared type'}` };
    if (!detail) {
      done();
      return;
    }
    void sendError(reply, errorBody(415, 'UNSUPPORTED_MEDIA_TYPE', detail.message, [detail]));
  });
}
