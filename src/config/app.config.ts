import { registerAs } from '@nestjs/config';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsUrl, Matches, Max, Min } from 'class-validator';
import { validateEnv } from './validate-env';

class AppEnv {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsOptional()
  HOST = '0.0.0.0';

  /** Largest JSON body accepted, in bytes (uploads have their own limit). */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  BODY_LIMIT_BYTES = 1_048_576;

  /**
   * How long a client may take to send a whole request (headers and body), in ms; then it gets a 408 and the
   * connection is closed. Fastify turns Node's limit off (0), so a body that never arrives (a Content-Length
   * larger than what is sent, a client trickling bytes) held its connection for good. Two minutes lets a 10 MB
   * upload through at ~700 kbit/s.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  REQUEST_TIMEOUT_MS = 120_000;

  /**
   * Which proxies in front of the service are trusted to say who the client is (X-Forwarded-For): `false` (none:
   * the peer address is the client), a number of hops (`1` behind one ingress), or a comma-separated list of
   * proxy addresses/CIDRs. Never `true` on a server clients can reach directly: anyone could then claim any
   * address and walk around the per-client login limit.
   */
  @Matches(/^(false|true|\d{1,2}|[0-9a-fA-F.:/]+(\s*,\s*[0-9a-fA-F.:/]+)*)$/, {
    message: 'TRUST_PROXY must be false, true, a number of hops, or a comma-separated list of addresses/CIDRs',
  })
  TRUST_PROXY = 'false';

  /**
   * Origins of web frontends allowed to call the API from a browser (CORS), comma-separated, each exactly as the
   * browser sends it: `https://cards.example.com,http://localhost:5173`. Empty (the default): no CORS headers,
   * for a frontend served from the same origin (an ingress routing `/api` here).
   */
  @Matches(/^(|https?:\/\/[^/\s,]+(\s*,\s*https?:\/\/[^/\s,]+)*)$/, {
    message: 'CORS_ORIGINS must be a comma-separated list of origins such as https://cards.example.com (no path)',
  })
  CORS_ORIGINS = '';

  /** Public base URL of this service, used to build callback URLs handed to the image generator. */
  @IsUrl({ require_tld: false })
  PUBLIC_BASE_URL = 'http://localhost:3000';
}

export const appConfig = registerAs('app', () => {
  const env = validateEnv(AppEnv, process.env);
  return {
    nodeEnv: env.NODE_ENV,
    production: env.NODE_ENV === 'production',
    port: env.PORT,
    host: env.HOST,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    trustProxy: trustProxy(env.TRUST_PROXY),
    publicBaseUrl: env.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    corsOrigins: env.CORS_ORIGINS.split(',')
      .map((origin) => origin.trim().toLowerCase())
      .filter((origin) => origin !== ''),
  };
});
export type AppConfig = ReturnType<typeof appConfig>;

/** TRUST_PROXY as Fastify's `trustProxy` option. */
function trustProxy(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') {
    return value === 'true';
  }
  return /^\d+$/.test(value) ? Number(value) : value;
}
