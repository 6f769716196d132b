import { Module, RequestMethod } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import pino, { Logger as PinoInstance } from 'pino';
import type { LoggingConfig } from '../config';
import { RequestIdEcho } from './request-id.echo';
import { isQuietPath, requestId, requestSerializers } from './request-log';

/** The root pino logger of the app. `createApp({ logger: false })` silences it (tests). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** Paths of values that must never be logged, wherever they turn up in a logged object. */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
  '*.headers["x-signature"]',
];

function rootLogger(config: LoggingConfig): PinoInstance {
  return pino(
    {
      level: config.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    // Synchronous: the lines of a shutdown are all written before process.exit().
    pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * Structured JSON logs (pino through nestjs-pino): Nest's logger writes through it, and every request carries a
 * request id, taken from `X-Request-Id` when the caller sent a well-formed one, and echoed on the response.
 */
@Module({
  providers: [RequestIdEcho],
  imports: [
    LoggerModule.forRootAsync({
      providers: [
        {
          provide: ROOT_LOGGER,
          inject: [ConfigService],
          useFactory: (config: ConfigService) => rootLogger(config.getOrThrow<LoggingConfig>('logging')),
        },
      ],
      inject: [ConfigService, ROOT_LOGGER],
      useFactory: (config: ConfigService, logger: PinoInstance) => ({
        forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
        pinoHttp: {
          logger,
          // Fastify already assigned the id (see createApp); this only serves requests that bypass it.
          genReqId: requestId,
          // Lines written while handling a request carry its id only; the closing line carries the request too.
          quietReqLogger: true,
          serializers: requestSerializers,
          autoLogging: config.getOrThrow<LoggingConfig>('logging').requests ? { ignore: isQuietPath } : false,
          customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
        },
      }),
    }),
  ],
})
export class LoggingModule {}
