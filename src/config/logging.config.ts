import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn } from 'class-validator';
import { validateEnv } from './validate-env';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

class LoggingEnv {
  @IsIn(LEVELS, { message: `LOG_LEVEL must be one of ${LEVELS.join(', ')}` })
  LOG_LEVEL: (typeof LEVELS)[number] = 'info';

  /** One JSON line per request (method, path, status, time, request id); health probes and /metrics excepted. */
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  LOG_REQUESTS = true;
}

export const loggingConfig = registerAs('logging', () => {
  const env = validateEnv(LoggingEnv, process.env);
  return { level: env.LOG_LEVEL, requests: env.LOG_REQUESTS };
});
export type LoggingConfig = ReturnType<typeof loggingConfig>;
