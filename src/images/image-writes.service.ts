import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { isAdmin, Viewer } from '../auth/viewer';
import { CacheEvict } from '../cache';
import { CharactersService } from '../characters/characters.service';
import { Character } from '../characters/entities/character.entity';
import { ApiError } from '../common/errors/api-error';
import { CdnUrlBuilder } from '../storage/cdn-url.builder';
import { discardStoredImages, IMAGE_STORAGE, ImageStorage } from '../storage/image-storage';
import { Image } from './entities/image.entity';
import { ImageResponse, toImageResponse } from './image.response';
import { imageWriteTags } from './image-cache';
import type { ImageUpload } from './image-upload';
import { probeImage } from './image-probe';
import { canViewImage } from './image-visibility';

/**
 * A character's images that are not nsfw, counted again on every upload and deletion (in the statement that
 * changes the row, under its lock), so a row that drifted is right again after its next image write.
 */
const SFW_IMAGES = `(SELECT count(*)::int FROM images i WHERE i.character_id = characters.id AND NOT i.nsfw)`;

/** Where an image's bytes live: a folder per character, named by the image id (never the client's name). */
export const imageStorageKey = (characterId: string, imageId: string, ext: string): string =>
  `images/${characterId}/${imageId}.${ext}`;

/**
 * Image uploads and deletions. The row, the character's image count and its avatar change in one transaction
 * under the character's row lock; the bytes are written before it and removed again when it fails.
 */
@Injectable()
export class ImageWritesService {
  private readonly logger = new Logger(ImageWritesService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly characters: CharactersService,
    @Inject(IMAGE_STORAGE) private readonly storage: ImageStorage,
    private readonly cdn: CdnUrlBuilder,
  ) {}

  @CacheEvict({ tags: (_image: ImageResponse | undefined, characterId: string) => imageWriteTags(characterId) })
  async upload(characterId: string, upload: ImageUpload, viewer: Viewer): Promise<ImageResponse> {
    // Refuse strangers before looking at or storing the bytes; the transaction checks again under the lock.
    await this.db.transaction((m) => this.characters.findWritable(characterId, viewer, m));
    const probed = probeImage(upload.bytes);
    const id = randomUUID();
    const storageKey = imageStorageKey(characterId, id, probed.ext);
    await this.storage.put(storageKey, upload.bytes, probed.mime);
    try {
      const image = await this.db.transaction(async (m) => {
        await this.characters.findWritable(characterId, viewer, m);
        const row = m.create(Image, {
          id,
          ownerId: viewer.userId!,
          characterId,
          storageKey,
          mime: probed.mime,
          width: probed.width,
          height: probed.height,
          bytes: upload.bytes.length,
          nsfw: upload.nsfw,
        });
        await m.insert(Image, row);
        await m.query(
          // The first image becomes the avatar, unless it is nsfw and the character is not (everyone sees the avatar).
          `UPDATE characters SET image_count = image_count + 1, sfw_image_count = ${SFW_IMAGES},
             avatar_image_id = coalesce(avatar_image_id, CASE WHEN $3 AND NOT nsfw THEN NULL ELSE $2::uuid END)
           WHERE id = $1`,
          [characterId, id, upload.nsfw],
        );
        return row;
      });
      return toImageResponse(image, this.cdn);
    } catch (error) {
      await discardStoredImages(this.storage, [storageKey], this.logger);
      throw error;
    }
  }

  /** Deletes an image (its uploader, the character's owner or an admin); the bytes go after the commit. */
  async remove(id: string, viewer: Viewer): Promise<void> {
    const { storageKey } = await this.applyRemove(id, viewer);
    await discardStoredImages(this.storage, [storageKey], this.logger);
  }

  @CacheEvict({ tags: (removed: { characterId: string } | undefined, id: string) => (removed ? imageWriteTags(removed.characterId, id) : []) })
  async applyRemove(id: string, viewer: Viewer): Promise<{ storageKey: string; characterId: string }> {
    return this.db.transaction((m) => this.removeRow(id, viewer, m));
  }

  private async removeRow(id: string, viewer: Viewer, m: EntityManager): Promise<{ storageKey: string; characterId: string }> {
    // Character first, then image: the same lock order as uploads, so the two cannot deadlock.
    const peek = await m.findOne(Image, { where: { id }, select: { id: true, characterId: true } });
    const character = peek
      ? await m.findOne(Character, { where: { id: peek.characterId }, lock: { mode: 'pessimistic_write' } })
      : null;
    const image = character
      ? await m.findOne(Image, { where: { id }, lock: { mode: 'pessimistic_write' } })
      : null;
    if (!character || !image) {
      throw ApiError.notFound('Image');
    }
    if (!isAdmin(viewer) && viewer.userId !== image.ownerId && viewer.userId !== character.ownerId) {
      throw canViewImage(image, character, viewer)
        ? ApiError.forbidden(
            'NOT_OWNER',
            'Only the uploader, the character owner or an admin can delete this image',
          )
        : ApiError.notFound('Image');
    }
    await m.delete(Image, { id });
    // Deleting the avatar nulled avatar_image_id (ON DELETE SET NULL); the newest remaining image takes over.
    await m.query(
      `UPDATE characters SET image_count = image_count - 1, sfw_image_count = ${SFW_IMAGES},
         avatar_image_id = CASE WHEN $2 THEN (
           SELECT i.id FROM images i WHERE i.character_id = characters.id AND (NOT i.nsfw OR characters.nsfw)
           ORDER BY i.created_at DESC, i.id DESC LIMIT 1
         ) ELSE avatar_image_id END
       WHERE id = $1`,
      [character.id, character.avatarImageId === id],
    );
    return { storageKey: image.storageKey, characterId: character.id };
  }
}
