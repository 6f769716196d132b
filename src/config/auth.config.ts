import { registerAs } from '@nestjs/config';
import { Type } from 'class-transformer';
import { IsInt, IsString, Matches, Max, Min, MinLength } from 'class-validator';
import { isProduction, refuseDefaultSecret, validateEnv } from './validate-env';

const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789';

class AuthEnv {
  @IsString()
  @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters' })
  JWT_SECRET = DEV_JWT_SECRET;

  /** Token lifetime: a number of seconds or a duration such as 15m, 12h, 7d. */
  @Matches(/^\d+[smhd]?$/, { message: 'JWT_EXPIRES_IN must look like 3600, 15m, 12h or 7d' })
  JWT_EXPIRES_IN = '12h';

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  LOGIN_RATE_LIMIT = 10;

  @Type(() => Number)
  @IsInt()
  @Min(1000)
  LOGIN_RATE_WINDOW_MS = 60_000;

  /** Accounts one client address may create per window: each costs a password hash and a row. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  REGISTER_RATE_LIMIT = 10;

  @Type(() => Number)
  @IsInt()
  @Min(1000)
  REGISTER_RATE_WINDOW_MS = 3_600_000;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseSeconds(value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value);
  if (!match) {
    throw new Error(`not a duration: ${value}`);
  }
  return Number(match[1]) * UNIT_SECONDS[match[2] || 's'];
}

export const authConfig = registerAs('auth', () => {
  const env = validateEnv(AuthEnv, process.env);
  refuseDefaultSecret('JWT_SECRET', env.JWT_SECRET, DEV_JWT_SECRET, isProduction(process.env));
  return {
    jwtSecret: env.JWT_SECRET,
    jwtExpiresInSeconds: parseSeconds(env.JWT_EXPIRES_IN),
    rateLimits: {
      login: { limit: env.LOGIN_RATE_LIMIT, windowMs: env.LOGIN_RATE_WINDOW_MS },
      register: { limit: env.REGISTER_RATE_LIMIT, windowMs: env.REGISTER_RATE_WINDOW_MS },
    },
  };
});
export type AuthConfig = ReturnType<typeof authConfig>;
