import { registerAs } from '@nestjs/config';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsUrl, Max, Min } from 'class-validator';
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
    publicBaseUrl: env.PUBLIC_BASE_URL.replace(/\/+$/, ''),
  };
});
export type AppConfig = ReturnType<typeof appConfig>;
