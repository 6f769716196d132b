import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger, NotFoundException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { QueryFailedError } from 'typeorm';
import type { RouteTable } from '../http/route-table';
import { ErrorBody, errorBody, reasonFor } from './api-error';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/** Fastify's own client errors (body parsing, limits, content types), mapped to stable codes. */
const FASTIFY_CODES: Record<string, [status: number, code: string, message: string]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'MALFORMED_JSON', 'The request body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'MALFORMED_JSON', 'The request body is empty'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE', 'The request body is too large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'BAD_REQUEST', 'Content-Length does not match the body'],
  FST_REQ_FILE_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE', 'The uploaded file is too large'],
  FST_FILES_LIMIT: [413, 'PAYLOAD_TOO_LARGE', 'Too many files in one upload'],
  FST_PARTS_LIMIT: [413, 'PAYLOAD_TOO_LARGE', 'Too many parts in one upload'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'Expected multipart/form-data'],
};

/** PostgreSQL errors that mean bad input rather than a broken server. */
const PG_CODES: Record<string, [status: number, code: string, message: string]> = {
  '23505': [409, 'CONFLICT', 'The resource already exists'],
  '22P02': [400, 'BAD_REQUEST', 'Malformed value'],
  '22001': [400, 'BAD_REQUEST', 'A value is too long'],
  '23503': [409, 'CONFLICT', 'A referenced resource does not exist'],
  '23502': [400, 'BAD_REQUEST', 'A required value is missing'],
  '22021': [400, 'BAD_REQUEST', 'A value holds bytes that are not text'],
  '22P05': [400, 'BAD_REQUEST', 'A value holds characters that cannot be stored'],
};

/** PostgreSQL unreachable, restarting or too slow: the service is unavailable, not broken. */
const PG_UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08006', '57014']);
const UNAVAILABLE_MESSAGE =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection terminated|timeout exceeded when trying to connect|Query read timeout|Connection ended|the database system is (starting up|shutting down)/i;

function databaseUnavailable(exception: unknown): boolean {
  const error = (exception instanceof QueryFailedError ? exception.driverError : exception) as
    | { code?: string; message?: string }
    | undefined;
  return !!error && ((!!error.code && PG_UNAVAILABLE_CODES.has(error.code)) || UNAVAILABLE_MESSAGE.test(error.message ?? ''));
}

export function toErrorBody(exception: unknown): ErrorBody {
  if (databaseUnavailable(exception)) {
    return errorBody(503, 'DATABASE_UNAVAILABLE', 'The database is unavailable; try again shortly');
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    if (typeof response === 'object' && response !== null && 'code' in response) {
      return response as ErrorBody;
    }
    const raw = typeof response === 'string' ? response : (response as { message?: unknown }).message;
    const message = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.join('; ') : exception.message;
    return errorBody(status, reasonFor(status)[1], message);
  }
  if (exception instanceof QueryFailedError) {
    const { code: pgCode, column } = (exception.driverError ?? {}) as { code?: string; column?: string };
    const mapped = pgCode ? PG_CODES[pgCode] : undefined;
    if (mapped) {
      // A NOT NULL violation names its column: the nearest thing to the field the client sent.
      const details =
        pgCode === '23502' && column ? [{ field: column, message: `${column} must not be null` }] : undefined;
      return errorBody(...mapped, details);
    }
  }
  const fastify = exception as FastifyLikeError;
  if (fastify?.code && FASTIFY_CODES[fastify.code]) {
    return errorBody(...FASTIFY_CODES[fastify.code]);
  }
  if (typeof fastify?.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    return errorBody(fastify.statusCode, reasonFor(fastify.statusCode)[1], fastify.message ?? 'Bad request');
  }
  return errorBody(500, 'INTERNAL_ERROR', 'Internal server error');
}

/** Every error leaves the service in the same JSON shape; only server faults are logged (with the stack). */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  /** With `routes`, a method a known path does not take is a 405 with `Allow`, not a 404. */
  constructor(private readonly routes?: RouteTable) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const notAllowed = this.methodNotAllowed(exception, host);
    if (notAllowed) {
      void sendError(notAllowed.reply.header('Allow', notAllowed.allow.join(', ')), notAllowed.body);
      return;
    }
    const body = toErrorBody(exception);
    if (body.statusCode === 503) {
      this.logger.warn(`${body.code}: ${exception instanceof Error ? exception.message : String(exception)}`);
    } else if (body.statusCode >= 500) {
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    }
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (body.statusCode === 503) {
      void reply.header('Retry-After', '5');
    }
    void sendError(reply, body);
  }

  /** Nest's answer to an unrouted request is a NotFoundException; the path may exist for other methods. */
  private methodNotAllowed(exception: unknown, host: ArgumentsHost): { reply: FastifyReply; allow: string[]; body: ErrorBody } | null {
    if (!this.routes || !(exception instanceof NotFoundException) || !/^Cannot [A-Z]+ /.test(exception.message)) {
      return null;
    }
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const allow = this.routes.allowed(request.url.split('?')[0]);
    if (allow.length === 0 || allow.includes(request.method)) {
      return null;
    }
    const message = `${request.method} is not allowed here: ${allow.join(', ')}`;
    return { reply: host.switchToHttp().getResponse<FastifyReply>(), allow, body: errorBody(405, 'METHOD_NOT_ALLOWED', message) };
  }
}

/**
 * Sends an error body, from a filter or from a hook that answers before any route. An error is no answer to
 * keep: a CDN with a default TTL would otherwise serve a 404 for a character made public since, or a 503 after
 * the database is back.
 */
export function sendError(reply: FastifyReply, body: ErrorBody): FastifyReply {
  return reply
    .status(body.statusCode)
    .header('content-type', 'application/json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(body);
}
