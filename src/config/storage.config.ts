import { registerAs } from '@nestjs/config';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUrl, Max, Min, MinLength } from 'class-validator';
import { EnvBoolean, isProduction, refuseDefaultSecret, validateEnv } from './validate-env';

const DEV_SIGNING_KEY = 'dev-only-cdn-signing-key-0123456789';

/** Seconds: at least the longest lifetime (TTL at the top of its jitter, plus grace) of a cached signed URL. */
export const CDN_URL_MIN_VALIDITY_FLOOR_S = 5_400;

class StorageEnv {
  @IsIn(['local'])
  STORAGE_DRIVER = 'local' as const;

  @IsString()
  STORAGE_LOCAL_DIR = '.data/uploads';

  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(100 * 1024 * 1024)
  UPLOAD_MAX_BYTES = 10 * 1024 * 1024;

  /** Base of every image URL handed to clients; the storage key is appended. */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  CDN_BASE_URL = 'http://localhost:3000/cdn';

  /** HMAC key for signed image-variant URLs (shared with the CDN's image proxy). */
  @IsString()
  @MinLength(16, { message: 'CDN_SIGNING_KEY must be at least 16 characters' })
  CDN_SIGNING_KEY = DEV_SIGNING_KEY;

  /**
   * A signed URL stays valid at least this long (seconds), so a cached response never hands out a URL whose
   * signature has expired. Hence the floor: the longest a cached response carrying signed URLs can live
   * (`src/images/signed-url-lifetime.spec.ts` holds the image policies to it).
   */
  @Type(() => Number)
  @IsInt()
  @Min(CDN_URL_MIN_VALIDITY_FLOOR_S, {
    message: `CDN_URL_MIN_VALIDITY_S must be at least ${CDN_URL_MIN_VALIDITY_FLOOR_S}: cached image pages carrying signed URLs live up to 15 min (+10 % jitter) + 1 h of grace`,
  })
  CDN_URL_MIN_VALIDITY_S = 7_200;

  /**
   * Serve STORAGE_LOCAL_DIR at /cdn/ from the app itself, for development where no CDN sits in front.
   * Default: on, except in production.
   */
  @IsOptional()
  @EnvBoolean()
  @IsBoolean()
  SERVE_LOCAL_CDN?: boolean;
}

export const storageConfig = registerAs('storage', () => {
  const env = validateEnv(StorageEnv, process.env);
  refuseDefaultSecret('CDN_SIGNING_KEY', env.CDN_SIGNING_KEY, DEV_SIGNING_KEY, isProduction(process.env));
  return {
    driver: env.STORAGE_DRIVER,
    localDir: env.STORAGE_LOCAL_DIR,
    maxUploadBytes: env.UPLOAD_MAX_BYTES,
    cdnBaseUrl: env.CDN_BASE_URL.replace(/\/+$/, ''),
    signingKey: env.CDN_SIGNING_KEY,
    urlMinValidityS: env.CDN_URL_MIN_VALIDITY_S,
    serveLocal: env.STORAGE_DRIVER === 'local' && (env.SERVE_LOCAL_CDN ?? !isProduction(process.env)),
  };
});
export type StorageConfig = ReturnType<typeof storageConfig>;
