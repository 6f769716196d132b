import type { CdnUrlBuilder, ImageVariant } from '../storage/cdn-url.builder';
import type { Image, ImageMimeType } from './entities/image.entity';

/** The shape every image read and write returns (and the one that will be cached). */
export interface ImageResponse {
  id: string;
  characterId: string;
  ownerId: string;
  url: string;
  /** Signed, expiring URLs of resized variants (thumb 256 px, card 512 px, full). */
  variants: Record<ImageVariant, string>;
  mime: ImageMimeType;
  width: number;
  height: number;
  bytes: number;
  nsfw: boolean;
  createdAt: string;
}

export function toImageResponse(image: Image, cdn: CdnUrlBuilder): ImageResponse {
  return {
    id: image.id,
    characterId: image.characterId,
    ownerId: image.ownerId,
    url: cdn.url(image.storageKey),
    variants: cdn.variants(image.storageKey),
    mime: image.mime,
    width: image.width,
    height: image.height,
    bytes: image.bytes,
    nsfw: image.nsfw,
    createdAt: new Date(image.createdAt).toISOString(),
  };
}
