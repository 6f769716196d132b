import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHmac } from 'node:crypto';
import type { StorageConfig } from '../config';

/** Resized variants the CDN's image proxy serves: width in pixels, or null for the original. */
export const IMAGE_VARIANTS = { thumb: 256, card: 512, full: null } as const;
export type ImageVariant = keyof typeof IMAGE_VARIANTS;

const HOUR_S = 3_600;

/**
 * The one place image URLs are built. Storage keys are path-encoded segment by segment, so a key can never
 * break out of the CDN base.
 *
 * Variant URLs are signed imgproxy-style: `{base}/v/{variant}/{key}?w={width}&exp={unix}&sig={hmac}`, the HMAC
 * (SHA-256, base64url) covering path and query. Expiries are rounded up to the hour past a minimum validity,
 * so the same image gets the same URL for an hour (browser and CDN caches stay warm) and a URL inside any cached
 * response is valid longer than that response can live.
 */
@Injectable()
export class CdnUrlBuilder {
  private readonly storage: StorageConfig;

  constructor(config: ConfigService) {
    this.storage = config.getOrThrow<StorageConfig>('storage');
  }

  url(storageKey: string): string {
    return `${this.storage.cdnBaseUrl}/${encodeKey(storageKey)}`;
  }

  urlOrNull(storageKey: string | null | undefined): string | null {
    return storageKey ? this.url(storageKey) : null;
  }

  variants(storageKey: string, nowMs = Date.now()): Record<ImageVariant, string> {
    const expires = Math.ceil((nowMs / 1000 + this.storage.urlMinValidityS) / HOUR_S) * HOUR_S;
    const entries = (Object.keys(IMAGE_VARIANTS) as ImageVariant[]).map((variant) => [
      variant,
      this.signed(storageKey, variant, expires),
    ]);
    return Object.fromEntries(entries) as Record<ImageVariant, string>;
  }

  /** For the CDN side (and tests): whether a variant path + query carries a valid, unexpired signature. */
  verify(pathAndQuery: string, nowMs = Date.now()): boolean {
    const match = /^(.*)&sig=([A-Za-z0-9_-]+)$/.exec(pathAndQuery);
    const expires = Number(/[?&]exp=(\d+)/.exec(pathAndQuery)?.[1]);
    return !!match && this.sign(match[1]) === match[2] && expires * 1000 > nowMs;
  }

  private signed(storageKey: string, variant: ImageVariant, expires: number): string {
    const width = IMAGE_VARIANTS[variant];
    const pathAndQuery = `/v/${variant}/${encodeKey(storageKey)}?${width ? `w=${width}&` : ''}exp=${expires}`;
    return `${this.storage.cdnBaseUrl}${pathAndQuery}&sig=${this.sign(pathAndQuery)}`;
  }

  private sign(pathAndQuery: string): string {
    return createHmac('sha256', this.storage.signingKey).update(pathAndQuery).digest('base64url');
  }
}

function encodeKey(storageKey: string): string {
  return storageKey.split('/').map(encodeURIComponent).join('/');
}
