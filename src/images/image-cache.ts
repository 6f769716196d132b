import { characterTag, modeTag } from '../characters/character-cache';

/** Key namespaces, as the brief lays them out: `images:gallery:{character_id}:{page}`, `images:user:{username}:{character}`. */
export const IMAGE_CACHE = {
  gallery: 'images:gallery',
  uploads: 'images:user',
  detail: 'images:detail',
  userId: 'users:id',
} as const;

export const galleryTag = (characterId: string): string => `gallery:${characterId}`;
export const uploadsTag = (characterId: string): string => `uploads:${characterId}`;
export const imageTag = (id: string): string => `image:${id}`;

/**
 * Which images of a character a viewer sees: `all` for its owner and admins, else the viewer's nsfw preference.
 * Everything a gallery page depends on besides the character and the page: viewers of one class share entries.
 */
export type ImageClass = 'all' | 'nsfw' | 'sfw';

/** An upload or deletion changes the character (image count, avatar), its galleries, and the popular order. */
export function imageWriteTags(characterId: string, imageId?: string): string[] {
  return [
    characterTag(characterId),
    modeTag('popular'),
    galleryTag(characterId),
    uploadsTag(characterId),
    ...(imageId ? [imageTag(imageId)] : []),
  ];
}
