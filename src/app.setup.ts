import { isUtf8 } from 'node:buffer';
import { createServer, type Server, type ServerOptions } from 'node:http';
import type { FastifyBodyParser, FastifyServerFactory } from 'fastify';
import { HttpStatus } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { Logger as PinoInstance } from 'pino';
import { AppModule } from './app.module';
import { ApiError } from './common/errors/api-error';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter';
import { clientErrorHandler, frameworkErrors, type RefusalSink } from './common/errors/framework-errors';
import { createValidationPipe } from './common/errors/validation';
import { acceptOnlyDeclaredBodies } from './common/http/body-types';
import { CorsPolicy } from './common/http/cors';
import { RouteTable } from './common/http/route-table';
import { waitedBeforeFastify } from './common/http/hand-off';
import { appConfig, loggingConfig, LoggingConfig, StorageConfig, validateConfiguration } from './config';
import { ShutdownService } from './health/shutdown.service';
import { ResponseReplay } from './http-cache/response-replay';
import { multipartForUploads } from './images/multipart-plugin';
import { BootLogger } from './logging/boot-logger';
import { ROOT_LOGGER, rootLogger as createRootLogger } from './logging/logging.module';
import { HttpMetrics } from './metrics/http-metrics';
import { serveUploadsLocally } from './storage/local-cdn';
import { completedRequestLine, requestId, requestLogger } from './logging/request-log';

/** A surrogate not part of a pair (with the `u` flag, a pair is one code point and does not match). */
const LONE_SURROGATE = /\p{Cs}/u;

/** Deeper than any body this API takes; much deeper would overflow the stack in the validation pipe (a 500). */
const MAX_JSON_DEPTH = 32;

/**
 * Fastify's JSON parser (with its prototype-poisoning protection), but a syntax error becomes our
 * MALFORMED_JSON error: Nest would otherwise turn it into a generic 400 and lose the reason. Bodies that are
 * valid JSON but that no field of this API can take are refused here, once for every route, with the field
 * named (see `unacceptable`): nothing further down has to guard against them.
 */
function jsonParser(app: NestFastifyApplication): FastifyBodyParser<Buffer> {
  const parse = app.getHttpAdapter().getInstance().getDefaultJsonParser('error', 'error');
  return (req, body, done) => {
    if (body.length === 0) {
      // No body at all: clients that set `Content-Type: application/json` on every request send it with a
      // DELETE too. The route's validation then says what is missing, if anything.
      done(null, undefined);
      return;
    }
    if (!isUtf8(body)) {
      done(new ApiError(HttpStatus.BAD_REQUEST, 'MALFORMED_JSON', 'The request body is not valid UTF-8'), undefined);
      return;
    }
    const text = body.toString('utf8');
    void parse(req, text, (error, value) => {
      if (error && isJson(text)) {
        // Valid JSON that Fastify's prototype-poisoning check refused (`__proto__`, `constructor.prototype`):
        // name the key, as `unacceptable` does for the others.
        const field = /"__proto__"/.test(text) || !/"constructor"/.test(text) ? '__proto__' : 'constructor';
        done(ApiError.badRequest(field, `${field} is not a field this API takes`), undefined);
        return;
      }
      if (error) {
        done(new ApiError(HttpStatus.BAD_REQUEST, 'MALFORMED_JSON', 'The request body is not valid JSON'), undefined);
        return;
      }
      const problem = unacceptable(value);
      done(problem ? ApiError.badRequest(problem.field, problem.message) : null, problem ? undefined : value);
    });
  };
}

/** Whether `text` is JSON at all (JSON.parse makes `__proto__` an own property, never a prototype). */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first thing in a parsed body no field can take: nesting deeper than MAX_JSON_DEPTH, a NUL character
 * (PostgreSQL stores none), a lone surrogate (not Unicode: validators throw on it, the database mangles it), or
 * a key named after a member of Object.prototype (`constructor`, `toString`: class-validator takes them for
 * declared fields). Walked without recursion.
 */
function unacceptable(body: unknown): { field: string; message: string } | null {
  const stack: [value: unknown, path: string, depth: number][] = [[body, '', 0]];
  while (stack.length > 0) {
    const [value, path, depth] = stack.pop()!;
    const field = path || 'body';
    if (typeof value === 'string') {
      if (value.includes('\u0000')) {
        return { field, message: `${field} must not contain NUL characters` };
      }
      if (LONE_SURROGATE.test(value)) {
        return { field, message: `${field} must be well-formed Unicode (it has a lone surrogate)` };
      }
      continue;
    }
    if (value === null || typeof value !== 'object') {
      continue;
    }
    if (depth >= MAX_JSON_DEPTH) {
      return { field, message: `${field} is nested more than ${MAX_JSON_DEPTH} levels deep` };
    }
    for (const [key, child] of Object.entries(value)) {
      const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (!Array.isArray(value)) {
        if (key in Object.prototype) {
          return { field: childPath, message: `${childPath} is not a field of this request` };
        }
        if (key.includes('\u0000') || LONE_SURROGATE.test(key)) {
          return { field: 'body', message: 'body has a field name with a NUL character or a lone surrogate' };
        }
      }
      stack.push([child, childPath, depth + 1]);
    }
  }
  return null;
}

/**
 * Builds the application exactly as production runs it; tests call this too, so they exercise the same
 * adapter, body limits, multipart, validation and error shape.
 */
export async function createApp(options: { logger?: false } = {}): Promise<NestFastifyApplication> {
  validateConfiguration();
  const { bodyLimitBytes, trustProxy, corsOrigins, requestTimeoutMs } = appConfig();
  // Replayed cache hits are answered in the server's request listener, before Fastify (ResponseReplay.handle).
  // A request that goes on gets its logger (nestjs-pino binds it for Nest's logger): made here, not per replay.
  const early: { replay?: ResponseReplay; logger?: PinoInstance; refused?: RefusalSink } = {};
  // Request ids come from a well-formed X-Request-Id, else are new UUIDs; the logs and the response carry them.
  // Requests refused before routing (an undecodable URL, malformed HTTP) answer in the app's error shape too.
  const cors = corsOrigins.length > 0 ? new CorsPolicy(corsOrigins) : undefined;
  const adapter = new FastifyAdapter({
    bodyLimit: bodyLimitBytes,
    trustProxy,
    genReqId: requestId,
    frameworkErrors: frameworkErrors(cors, () => early.refused),
    clientErrorHandler: clientErrorHandler(cors, () => early.refused),
    // A request not received in time is a 408 (clientErrorHandler). Given to Node's server when it is created:
    // Fastify's own `requestTimeout` is only assigned afterwards, and Node 20 never fires it then. Node checks
    // every 30 s by default, so a shorter limit is checked more often.
    requestTimeout: requestTimeoutMs,
    http: {
      requestTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(requestTimeoutMs / 4))),
    },
    serverFactory: replayingServer(early),
  });
  // Fastify closes a server it did not make only if it listened through Fastify; tests listen on it directly.
  adapter.getInstance().addHook('onClose', (instance, done) => {
    if (instance.server.listening) {
      instance.server.close(() => done());
    } else {
      done();
    }
  });
  if (cors) {
    // First of all: errors, and answers Nest builds, carry the CORS headers too (replays add their own).
    adapter.getInstance().addHook('onRequest', cors.hook());
  }
  adapter.getInstance().addHook('onRequest', (request, _reply, done) => {
    if (early.logger) {
      request.log = requestLogger(early.logger, request.id);
    }
    done();
  });
  const routes = new RouteTable();
  routes.watch(adapter.getInstance());
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    rawBody: true,
    // Boot errors (a bad variable, an unreachable database) reach the caller instead of exiting the process.
    abortOnError: false,
    logger: options.logger === false ? false : new BootLogger(createRootLogger(loggingConfig())),
  });
  const rootLogger = app.get<PinoInstance>(ROOT_LOGGER);
  if (options.logger === false) {
    // Request logs too: they are written to the root logger, not through Nest's.
    rootLogger.level = 'silent';
  } else {
    app.useLogger(app.get(Logger));
  }
  const config = app.get(ConfigService);
  const metrics = app.get(HttpMetrics);
  // Every request's closing line, whether Fastify answered it or it was replayed before Fastify.
  const line = config.getOrThrow<LoggingConfig>('logging').requests ? completedRequestLine(rootLogger) : undefined;
  if (line) {
    app.getHttpAdapter().getInstance().addHook('onResponse', (request, reply, done) => {
      line(request.raw, request.id, reply.statusCode, reply.elapsedTime + waitedBeforeFastify(request.raw));
      done();
    });
  }
  const shutdown = app.get(ShutdownService);
  const replay = app.get(ResponseReplay);
  metrics.followReplays(replay.counts);
  replay.connect({
    cors,
    draining: () => shutdown.isDraining,
    answered: (req, id, route, status, xCache, elapsedMs) => {
      metrics.observe('GET', route, status, xCache, elapsedMs / 1000);
      line?.(req, id, status, elapsedMs);
    },
  });
  early.replay = replay;
  early.logger = rootLogger;
  // A request refused before any route (by Node's parser, or Fastify's router) reaches none of Fastify's hooks (the
  // metrics', the request log's): it is counted here (http_requests_refused_total) whatever the logging, and logged
  // when requests are, with no method or URL.
  const logRefused: RefusalSink | undefined = line
    ? ({ reqId, statusCode, code, remoteAddress }) =>
        rootLogger.info(
          { reqId, req: { id: reqId, remoteAddress }, res: { statusCode }, code },
          'request refused',
        )
    : undefined;
  early.refused = (refused) => {
    metrics.refused(refused.statusCode, refused.code);
    logRefused?.(refused);
  };
  const storage = config.getOrThrow<StorageConfig>('storage');
  await app.register(multipartForUploads, {
    limits: { fileSize: storage.maxUploadBytes, files: 1, fields: 10, parts: 11, fieldSize: 4096 },
  });
  acceptOnlyDeclaredBodies(app.getHttpAdapter().getInstance());
  // Never reached (see acceptOnlyDeclaredBodies): no route takes text, so no parser for it either.
  app.getHttpAdapter().getInstance().removeContentTypeParser('text/plain');
  if (storage.serveLocal) {
    serveUploadsLocally(app, storage);
  }
  app.useBodyParser('application/json', { bodyLimit: bodyLimitBytes }, jsonParser(app));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter(routes));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Cards API')
      .setDescription('Characters, images and users, cached for the cards frontend')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}

/**
 * Node's HTTP server as Fastify makes it (same options and timeouts), with one difference: a request is first
 * offered to ResponseReplay, which answers replayable cache hits itself and hands everything else to Fastify.
 * Fastify's per-request work (its request and reply, routing, hooks) was most of what such a hit cost.
 */
function replayingServer(early: { replay?: ResponseReplay }): FastifyServerFactory {
  return (handler, opts) => {
    // What Fastify passes here: its options, with its defaults filled in.
    const options = opts as { http?: ServerOptions; keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket: number };
    const server: Server = createServer(options.http ?? {}, (req, res) =>
      early.replay ? early.replay.handle(req, res, handler) : handler(req, res),
    );
    server.keepAliveTimeout = options.keepAliveTimeout;
    server.requestTimeout = options.requestTimeout;
    server.setTimeout(options.connectionTimeout);
    if (options.maxRequestsPerSocket > 0) {
      server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    }
    return server;
  };
}
