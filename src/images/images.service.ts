import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, SelectQueryBuilder } from 'typeorm';
import { isAdmin, Viewer } from '../auth/viewer';
import { Cacheable } from '../cache';
import type { CharacterResponse } from '../characters/character.response';
import { canViewCharacter, characterView } from '../characters/character-visibility';
import { CharactersService } from '../characters/characters.service';
import { ApiError } from '../common/errors/api-error';
import { Page, PageQuery, toPage } from '../common/http/page';
import { CdnUrlBuilder } from '../storage/cdn-url.builder';
import { User } from '../users/entities/user.entity';
import { Image } from './entities/image.entity';
import { ImageResponse, toImageResponse } from './image.response';
import { galleryTag, IMAGE_CACHE, ImageClass, imageTag, uploadsTag } from './image-cache';
import { canViewImage } from './image-visibility';

/**
 * Image reads. The character's visibility is checked on its cached detail; the pages themselves are cached per
 * character, page and image class, so every viewer of a class shares them.
 */
@Injectable()
export class ImagesService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly characters: CharactersService,
    private readonly cdn: CdnUrlBuilder,
  ) {}

  /** The gallery of a character, newest first; 404 when the viewer may not open the character. */
  async listForCharacter(characterId: string, query: PageQuery, viewer: Viewer): Promise<Page<ImageResponse>> {
    const character = await this.visibleCharacter(characterId, viewer);
    return this.galleryPage(characterId, query.page, query.limit, imageClass(character, viewer));
  }

  /** What one user uploaded for one character, newest first; 404 for an unknown user or a hidden character. */
  async listForUploader(
    username: string,
    characterId: string,
    query: PageQuery,
    viewer: Viewer,
  ): Promise<Page<ImageResponse>> {
    const uploaderId = await this.userIdOf(username);
    if (!uploaderId) {
      throw ApiError.notFound('User');
    }
    const character = await this.visibleCharacter(characterId, viewer);
    return this.uploadsPage(username, characterId, query.page, query.limit, imageClass(character, viewer));
  }

  /** One image; 404 when missing or hidden from this viewer. */
  async get(id: string, viewer: Viewer): Promise<ImageResponse> {
    const image = await this.loadImage(id);
    const character = image ? await this.characters.load(image.characterId, characterView(viewer)) : null;
    if (!image || !character || !canViewImage(image, { ...character, ownerId: character.owner.id }, viewer)) {
      throw ApiError.notFound('Image');
    }
    return image;
  }

  @Cacheable({
    namespace: IMAGE_CACHE.gallery,
    scope: 'public',
    key: (characterId: string, page: number, limit: number, cls: ImageClass) => [characterId, page, limit, cls],
    ttl: '15m',
    grace: '1h',
    argTags: (characterId: string) => [galleryTag(characterId)],
    // Pages of signed URLs are the bulk of Redis memory (48 of 64 MB in the cards-mix benchmark); they deflate
    // to about a third. Served from L1 uncompressed.
    compress: true,
  })
  async galleryPage(characterId: string, page: number, limit: number, cls: ImageClass): Promise<Page<ImageResponse>> {
    return this.page(this.imagesOf(characterId, cls), { page, limit });
  }

  @Cacheable({
    namespace: IMAGE_CACHE.uploads,
    scope: 'public',
    key: (username: string, characterId: string, page: number, limit: number, cls: ImageClass) => [
      username,
      characterId,
      page,
      limit,
      cls,
    ],
    ttl: '15m',
    grace: '1h',
    argTags: (_username: string, characterId: string) => [uploadsTag(characterId)],
    compress: true,
  })
  async uploadsPage(
    username: string,
    characterId: string,
    page: number,
    limit: number,
    cls: ImageClass,
  ): Promise<Page<ImageResponse>> {
    const images = this.imagesOf(characterId, cls)
      .innerJoin(User, 'u', 'u.id = i.owner_id')
      .andWhere('u.username = :username', { username });
    return this.page(images, { page, limit });
  }

  @Cacheable({
    namespace: IMAGE_CACHE.detail,
    scope: 'public',
    key: (id: string) => [id],
    ttl: '15m',
    grace: '1h',
    cacheNull: '30s',
    argTags: (id: string) => [imageTag(id)],
  })
  async loadImage(id: string): Promise<ImageResponse | null> {
    const image = await this.db.manager.findOneBy(Image, { id });
    return image ? toImageResponse(image, this.cdn) : null;
  }

  /** Usernames never change, so the lookup is cached for long; unknown names briefly. */
  @Cacheable({ namespace: IMAGE_CACHE.userId, scope: 'public', key: (username: string) => [username], ttl: '1h', cacheNull: '30s' })
  async userIdOf(username: string): Promise<string | null> {
    const user = await this.db.manager.findOne(User, { where: { username }, select: { id: true } });
    return user?.id ?? null;
  }

  private async visibleCharacter(characterId: string, viewer: Viewer): Promise<CharacterResponse> {
    const character = await this.characters.load(characterId, characterView(viewer));
    if (!character || !canViewCharacter({ ...character, ownerId: character.owner.id }, viewer)) {
      throw ApiError.notFound('Character');
    }
    return character;
  }

  private imagesOf(characterId: string, cls: ImageClass): SelectQueryBuilder<Image> {
    const qb = this.db.createQueryBuilder(Image, 'i').where('i.character_id = :characterId', { characterId });
    return cls === 'all' || cls === 'nsfw' ? qb : qb.andWhere('i.nsfw = false');
  }

  private async page(qb: SelectQueryBuilder<Image>, query: PageQuery): Promise<Page<ImageResponse>> {
    const total = await qb.clone().getCount();
    const images = await qb
      .orderBy('i.created_at', 'DESC')
      .addOrderBy('i.id', 'DESC')
      .offset((query.page - 1) * query.limit)
      .limit(query.limit)
      .getMany();
    return toPage(
      images.map((image) => toImageResponse(image, this.cdn)),
      total,
      query,
    );
  }
}

/**
 * Nsfw images show to viewers whose preference allows them, and always to the character's owner and admins
 * (only they can upload, so an uploader is always one of them).
 */
function imageClass(character: CharacterResponse, viewer: Viewer): ImageClass {
  if (isAdmin(viewer) || viewer.userId === character.owner.id) {
    return 'all';
  }
  return viewer.showNsfw ? 'nsfw' : 'sfw';
}
