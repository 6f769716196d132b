import { Module, RequestMethod } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import pino, { Logger as PinoInstance } from 'pino';
import type { LoggingConfig } from '../config';
import { RequestIdEcho } from './request-id.echo';

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

/** The app's root logger (also Nest's while the app is created: see BootLogger). */
export function rootLogger(config: LoggingConfig): PinoInstance {
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
 * request id, taken from `X-Request-Id` when the caller sent a well-formed one, and echoed on the response
 * (createApp wires the request's logger and its closing line: see request-log).
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
      inject: [ROOT_LOGGER],
      useFactory: (logger: PinoInstance) => ({
        forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
        // The logger of each request is the one createApp gives Fastify's request (`requestLogger`: lines carry
        // the request id), and the closing line is createApp's `onResponse` hook: pino-http is not used, since it
        // made two pino children per request whether or not a line was written (see requestLogger).
        useExisting: true,
        pinoHttp: { logger },
      }),
    }),
  ],
})
export class LoggingModule {}
