import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, SelectQueryBuilder } from 'typeorm';
import { CacheContext, Cacheable, CacheEvict, contentHash } from '../cache';
import { isAdmin, Viewer, viewerOfClass, VisibilityClass, visibilityClass } from '../auth/viewer';
import { ApiError } from '../common/errors/api-error';
import type { IfMatch } from '../common/http/if-match';
import { Page, toPage } from '../common/http/page';
import { GenerationJob } from '../generations/entities/generation-job.entity';
import { generationTag } from '../generations/generation-cache';
import { Image } from '../images/entities/image.entity';
import { galleryTag, imageTag, uploadsTag } from '../images/image-cache';
import { CdnUrlBuilder } from '../storage/cdn-url.builder';
import { discardStoredImages, IMAGE_STORAGE, ImageStorage } from '../storage/image-storage';
import { User } from '../users/entities/user.entity';
import { CharacterResponse, CharacterRow, toCharacterResponse } from './character.response';
import { applyListVisibility, canViewCharacter, CharacterView, characterView } from './character-visibility';
import {
  CHARACTER_CACHE,
  characterTag,
  characterWriteTags,
  listKey,
  listTags,
  modeTag,
  PUBLIC_LISTS,
} from './character-cache';
import { BulkUpdateDto } from './dto/bulk-update.dto';
import { CreateCharacterDto } from './dto/create-character.dto';
import { ListCharactersQuery, ListMode } from './dto/list-characters.query';
import { UpdateCharacterDto } from './dto/update-character.dto';
import { Character } from './entities/character.entity';

export const FEATURED_LIMIT = 50;
/** The brief's TTL for featured characters, wherever they are listed. */
const FEATURED_TTL = '3m';

/** A public list page, cached once per visibility class (the TTL depends on the mode). */
const PUBLIC_LIST = {
  namespace: CHARACTER_CACHE.list,
  scope: 'public',
  key: (query: ListCharactersQuery, cls: VisibilityClass) => [...listKey(query), cls],
  grace: '10m',
  // Which lists the page belongs to, stamped before the query runs; then the characters it happened to hold.
  argTags: (query: ListCharactersQuery, _cls: VisibilityClass) => listTags(query, []),
  tags: (page: Page<CharacterResponse>) => page.items.map((c) => characterTag(c.id)),
} as const;

/** A write's result for @CacheEvict: the character written and the cache tags it made wrong. */
interface WriteOutcome {
  id: string;
  tags: string[];
}

export interface BulkResult {
  updated: number;
  items: { id: string; version: number }[];
}

/** The column holding the number of images a view counts (see CharacterView). */
const IMAGE_COUNT: Record<CharacterView, string> = { all: 'c.image_count', sfw: 'c.sfw_image_count' };

/** A list's order; `popular` is by the images the viewer's view counts, each order from its own index. */
function orderOf(mode: ListMode, view: CharacterView): [column: string, direction: 'ASC' | 'DESC'] {
  switch (mode) {
    case 'all':
      return ['c.name', 'ASC'];
    case 'featured':
      return ['c.featured_rank', 'ASC'];
    case 'mine':
    case 'new':
      return ['c.created_at', 'DESC'];
    case 'popular':
      return [IMAGE_COUNT[view], 'DESC'];
  }
}

/** `q` words become prefix terms (`dra:* & kai:*`); anything but letters and digits is dropped. */
function toTsQuery(q: string): string | null {
  const words = q.match(/[\p{L}\p{N}]+/gu)?.slice(0, 8) ?? [];
  return words.length > 0 ? words.map((w) => `${w}:*`).join(' & ') : null;
}


/** The avatar is an nsfw image of an sfw character (as SQL over `c`, the character, and `a`, its avatar image). */
const NSFW_AVATAR = 'a.nsfw AND NOT c.nsfw';
@Injectable()
export class CharactersService {
  private readonly logger = new Logger(CharactersService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly cdn: CdnUrlBuilder,
    @Inject(IMAGE_STORAGE) private readonly storage: ImageStorage,
  ) {}

  /** A page of characters as this viewer may see them: public lists are shared by everyone of the viewer's class. */
  async list(query: ListCharactersQuery, viewer: Viewer): Promise<Page<CharacterResponse>> {
    if (query.mode === 'mine') {
      if (!viewer.userId) {
        throw new ApiError(HttpStatus.UNAUTHORIZED, 'AUTH_REQUIRED', 'mode=mine needs a bearer token');
      }
      return this.listMine(query, viewer.userId);
    }
    const cls = visibilityClass(viewer);
    return query.mode === 'featured' ? this.listFeatured(query, cls) : this.listPublic(query, cls);
  }

  @Cacheable({ ...PUBLIC_LIST, ttl: '5m' })
  async listPublic(query: ListCharactersQuery, cls: VisibilityClass): Promise<Page<CharacterResponse>> {
    return this.runList(query, viewerOfClass(cls));
  }

  /** Pages of `mode=featured`: featured characters live 3 minutes in the cache, on this endpoint as on `featured`. */
  @Cacheable({ ...PUBLIC_LIST, ttl: FEATURED_TTL })
  async listFeatured(query: ListCharactersQuery, cls: VisibilityClass): Promise<Page<CharacterResponse>> {
    return this.runList(query, viewerOfClass(cls));
  }

  /** The owner's own characters, every visibility: truly personal, so keyed by the owner. */
  @Cacheable({
    namespace: CHARACTER_CACHE.list,
    scope: 'viewer',
    viewer: (_query: ListCharactersQuery, ownerId: string) => ownerId,
    key: (query: ListCharactersQuery, _ownerId: string) => listKey(query),
    ttl: '5m',
    grace: '10m',
    argTags: (query: ListCharactersQuery, ownerId: string) => listTags(query, [], ownerId),
    tags: (page: Page<CharacterResponse>) => page.items.map((c) => characterTag(c.id)),
  })
  async listMine(query: ListCharactersQuery, ownerId: string): Promise<Page<CharacterResponse>> {
    return this.runList(query, { userId: ownerId, role: 'user', showNsfw: true, tier: 'pro' });
  }

  private async runList(query: ListCharactersQuery, viewer: Viewer): Promise<Page<CharacterResponse>> {
    const qb = this.listQuery(query, viewer);
    const total = await qb.clone().getCount();
    const rows = await qb
      .offset((query.page - 1) * query.limit)
      .limit(query.limit)
      .getRawMany<CharacterRow>();
    return toPage(rows.map((r) => this.toResponse(r)), total, query);
  }

  /** The filtered, ordered list query (without paging); public so the index checks can EXPLAIN exactly it. */
  listQuery(query: ListCharactersQuery, viewer: Viewer): SelectQueryBuilder<Character> {
    if (query.mode === 'mine' && !viewer.userId) {
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'AUTH_REQUIRED', 'mode=mine needs a bearer token');
    }
    const view = characterView(viewer);
    const qb = this.selectCharacters(view);
    if (query.mode === 'mine') {
      qb.andWhere('c.owner_id = :owner', { owner: viewer.userId });
    } else {
      applyListVisibility(qb, viewer);
    }
    if (query.mode === 'featured') {
      qb.andWhere('c.featured = true');
    }
    if (query.tag) {
      qb.andWhere('c.tags @> ARRAY[:tag]::text[]', { tag: query.tag });
    }
    const tsQuery = query.q ? toTsQuery(query.q) : null;
    if (tsQuery) {
      qb.andWhere(`to_tsvector('simple', c.name || ' ' || c.description) @@ to_tsquery('simple', :tsq)`, { tsq: tsQuery });
    }
    const [column, direction] = orderOf(query.mode, view);
    return qb.orderBy(column, direction).addOrderBy('c.id', direction);
  }

  featured(viewer: Viewer): Promise<{ items: CharacterResponse[] }> {
    return this.featuredFor(visibilityClass(viewer));
  }

  @Cacheable({
    namespace: CHARACTER_CACHE.featured,
    scope: 'public',
    key: (cls: VisibilityClass) => [cls],
    ttl: FEATURED_TTL,
    grace: '10m',
    argTags: (_cls: VisibilityClass) => [PUBLIC_LISTS, modeTag('featured')],
    tags: (result: { items: CharacterResponse[] }) => result.items.map((c) => characterTag(c.id)),
  })
  async featuredFor(cls: VisibilityClass): Promise<{ items: CharacterResponse[] }> {
    const viewer = viewerOfClass(cls);
    const qb = this.selectCharacters(characterView(viewer)).andWhere('c.featured = true');
    applyListVisibility(qb, viewer);
    const rows = await qb
      .orderBy('c.featured_rank', 'ASC')
      .addOrderBy('c.id', 'ASC')
      .limit(FEATURED_LIMIT)
      .getRawMany<CharacterRow>();
    return { items: rows.map((r) => this.toResponse(r)) };
  }

  /**
   * A character by id, as this viewer may see it; 404 when missing or hidden from them. The detail is cached
   * once per view for everyone (`characters:detail:{id}:{view}`, see CharacterView) and the visibility rule is
   * applied to it on every read, so a cached detail is never shown to someone who may not see it.
   */
  async get(id: string, viewer: Viewer): Promise<CharacterResponse> {
    const view = characterView(viewer);
    const character = await this.load(id, view);
    if (!character || !canViewCharacter({ ...character, ownerId: character.owner.id }, viewer)) {
      throw ApiError.notFound('Character');
    }
    // Its owner sees every image of it, whatever their preference (as in its gallery).
    return view === 'sfw' && character.owner.id === viewer.userId ? this.everyImage(id) : character;
  }

  /** One character as a view shows it to anyone (visibility is the caller's to check), or null. */
  @Cacheable({
    namespace: CHARACTER_CACHE.detail,
    scope: 'public',
    key: (id: string, view: CharacterView) => [id, view],
    ttl: '10m',
    grace: '1h',
    cacheNull: '30s',
    argTags: (id: string, _view: CharacterView) => [characterTag(id)],
  })
  async load(id: string, view: CharacterView): Promise<CharacterResponse | null> {
    const row = await this.selectCharacters(view).where('c.id = :id', { id }).getRawOne<CharacterRow>();
    return row ? this.toResponse(row) : null;
  }

  /** Writes answer with the character as readers will now see it (read through the cache, which it warms). */
  async create(dto: CreateCharacterDto, viewer: Viewer): Promise<CharacterResponse> {
    const { id } = await this.applyCreate(dto, viewer);
    return this.asWritten(id);
  }

  /**
   * Applies a partial update if the caller owns the character (or is an admin) and, when versions are given
   * (If-Match or body), only if one of them is still the current one. `If-Match: *` asks only that the character
   * exists, as every PATCH does: a missing or invisible one is the usual 404, not a 412 (RFC 9110 §13.2.1: a
   * precondition is not evaluated when the request without it would fail anyway, and a 412 would tell a viewer
   * that an invisible character exists).
   */
  async update(id: string, dto: UpdateCharacterDto, viewer: Viewer, ifMatch?: IfMatch): Promise<CharacterResponse> {
    const versions = ifMatch && !('any' in ifMatch) ? await this.matchingVersions(id, ifMatch, viewer) : undefined;
    try {
      await this.applyUpdate(id, dto, viewer, versions);
    } catch (error) {
      // "Changed since you read it" would send a client whose ETags a proxy weakened (gzip) into a reload loop.
      const weakOnly = ifMatch && 'weak' in ifMatch && ifMatch.weak > 0 && ifMatch.versions.length + ifMatch.etags.length === 0;
      throw weakOnly && error instanceof ApiError && error.getStatus() === (HttpStatus.PRECONDITION_FAILED as number)
        ? new ApiError(
            HttpStatus.PRECONDITION_FAILED,
            'VERSION_MISMATCH',
            'If-Match holds only weak ETags (W/...), which never match: send the ETag of a GET as received, or the version',
          )
        : error;
    }
    return this.asWritten(id);
  }

  /** The character as its owner and admins see it (every image counted), through the cache; a 404 if it is gone. */
  private async everyImage(id: string): Promise<CharacterResponse> {
    const character = await this.load(id, 'all');
    if (!character) {
      throw ApiError.notFound('Character');
    }
    return character;
  }

  /**
   * What a write committed, as its writer (owner or admin) sees it; a 404 if a delete came in between. The other
   * view is read (so cached) alongside: its readers come next, and the frontend reloads the character at once.
   */
  private async asWritten(id: string): Promise<CharacterResponse> {
    const [character] = await Promise.all([this.everyImage(id), this.load(id, 'sfw')]);
    return character;
  }

  /**
   * The versions an If-Match list accepts: those it names, and the current one if one of its ETags is the content
   * hash of the current detail entry (the write is then conditional on that version, so a change in between still
   * fails). Either view's entry: a writer may have read the character anonymously before signing in, and both are
   * the same version. No ETag: nothing to read here, the UPDATE checks the versions.
   */
  private async matchingVersions(id: string, ifMatch: { versions: number[]; etags: string[] }, viewer: Viewer): Promise<number[]> {
    if (ifMatch.etags.length === 0) {
      return ifMatch.versions;
    }
    for (const view of ['all', 'sfw'] as const) {
      const current = await CacheContext.run(async () => {
        const character = await this.load(id, view);
        return character ? { character, envelope: CacheContext.resultFor(character)?.envelope } : null;
      });
      if (!current || !canViewCharacter({ ...current.character, ownerId: current.character.owner.id }, viewer)) {
        throw ApiError.notFound('Character');
      }
      // Without an entry (caching disabled, or a load that overlapped a write) the hash is taken here, the same way.
      const hash = current.envelope ? current.envelope.header.h : contentHash(JSON.stringify(current.character));
      if (ifMatch.etags.includes(`"${hash}"`)) {
        return [...ifMatch.versions, current.character.version];
      }
    }
    return ifMatch.versions;
  }

  /**
   * Deletes a character, its images' rows and generation jobs (by cascade) and, once that has committed, the
   * images' stored files.
   */
  async remove(id: string, viewer: Viewer): Promise<void> {
    const { storageKeys } = await this.applyRemove(id, viewer);
    await discardStoredImages(this.storage, storageKeys, this.logger);
  }

  /**
   * Changes visibility/tags/nsfw of up to 500 of the caller's characters in one transaction: all or nothing.
   * Ids that do not exist or are not the caller's are reported (as 404) and nothing is changed.
   */
  async bulkUpdate(dto: BulkUpdateDto, viewer: Viewer): Promise<BulkResult> {
    const { result } = await this.applyBulk(dto, viewer);
    return result;
  }

  // Each write runs in a transaction and reports which cache tags it made wrong (from the rows before and
  // after); @CacheEvict invalidates them, in one call, once the transaction has committed.

  @CacheEvict({ tags: (outcome: WriteOutcome | undefined) => outcome?.tags ?? [] })
  async applyCreate(dto: CreateCharacterDto, viewer: Viewer): Promise<WriteOutcome> {
    const result = await this.db
      .createQueryBuilder()
      .insert()
      .into(Character)
      .values({
        ownerId: viewer.userId!,
        name: dto.name,
        description: dto.description ?? '',
        tags: dto.tags ?? [],
        visibility: dto.visibility ?? 'public',
        nsfw: dto.nsfw ?? false,
        premium: dto.premium ?? false,
      })
      .returning(['id'])
      .execute();
    const id = result.identifiers[0].id as string;
    const created = await this.db.manager.findOneByOrFail(Character, { id });
    return { id, tags: characterWriteTags(null, created) };
  }

  @CacheEvict({ tags: (outcome: WriteOutcome | undefined) => outcome?.tags ?? [] })
  async applyUpdate(id: string, dto: UpdateCharacterDto, viewer: Viewer, ifMatch?: number[]): Promise<WriteOutcome> {
    const { version: bodyVersion, ...changes } = dto;
    if (ifMatch !== undefined && ifMatch.length > 0 && bodyVersion !== undefined && !ifMatch.includes(bodyVersion)) {
      throw ApiError.badRequest('version', 'If-Match and body version disagree');
    }
    // Both given: the body's version, if If-Match takes it. Empty: nothing can match (a weak or stale ETag).
    const expected = bodyVersion === undefined ? ifMatch : (ifMatch?.filter((v) => v === bodyVersion) ?? [bodyVersion]);
    if (Object.values(changes).every((value) => value === undefined)) {
      // Not a no-op write: it would still bump the version and fail every other client's If-Match.
      throw ApiError.badRequest('body', 'Give at least one field to change');
    }
    if ((changes.featured !== undefined || changes.featuredRank !== undefined) && !isAdmin(viewer)) {
      throw ApiError.forbidden('ADMIN_ONLY_FIELD', 'Only admins can change featured and featuredRank');
    }
    return this.db.transaction(async (m) => {
      const before = await this.findWritable(id, viewer, m);
      if (changes.avatarImageId) {
        const image = await m.findOneBy(Image, { id: changes.avatarImageId, characterId: id });
        if (!image) {
          throw ApiError.badRequest('avatarImageId', 'avatarImageId must be an image of this character');
        }
        if (image.nsfw && !(changes.nsfw ?? before.nsfw)) {
          throw ApiError.badRequest('avatarImageId', 'avatarImageId must not be an nsfw image while the character is not nsfw');
        }
      }
      const qb = m.createQueryBuilder().update(Character).set(changes).where('id = :id', { id });
      if (expected !== undefined) {
        // `IN ()` is not SQL: with no version to match, `false` fails the write the same way.
        qb.andWhere(expected.length > 0 ? 'version IN (:...expected)' : 'false', { expected });
      }
      const result = await qb.execute();
      if (result.affected === 0) {
        throw new ApiError(
          HttpStatus.PRECONDITION_FAILED,
          'VERSION_MISMATCH',
          'The character was changed since you read it; reload and retry',
        );
      }
      const after = await m.findOneByOrFail(Character, { id });
      return { id, tags: characterWriteTags(before, after) };
    });
  }

  @CacheEvict({ tags: (outcome: WriteOutcome | undefined) => outcome?.tags ?? [] })
  async applyRemove(id: string, viewer: Viewer): Promise<WriteOutcome & { storageKeys: string[] }> {
    return this.db.transaction(async (m) => {
      // The row lock taken here makes uploads to this character wait: no image can slip in between the two.
      const before = await this.findWritable(id, viewer, m);
      const images = await m.find(Image, { where: { characterId: id }, select: { id: true, storageKey: true } });
      // The cascade deletes the jobs as well; their cached records must go with them.
      const jobs = await m.find(GenerationJob, { where: { characterId: id }, select: { id: true } });
      await m.delete(Character, { id });
      const imageTags = [galleryTag(id), uploadsTag(id), ...images.map((image) => imageTag(image.id))];
      const jobTags = jobs.map((job) => generationTag(job.id));
      return {
        id,
        tags: [...characterWriteTags(before, null), ...imageTags, ...jobTags],
        storageKeys: images.map((image) => image.storageKey),
      };
    });
  }


  @CacheEvict({ tags: (outcome: { tags: string[] } | undefined) => outcome?.tags ?? [] })
  async applyBulk(dto: BulkUpdateDto, viewer: Viewer): Promise<{ result: BulkResult; tags: string[] }> {
    const changes = Object.fromEntries(Object.entries(dto.set).filter(([, v]) => v !== undefined));
    if (Object.keys(changes).length === 0) {
      throw ApiError.badRequest('set', 'set must change at least one of visibility, tags, nsfw');
    }
    return this.db.transaction(async (m) => {
      const before = await m
        .createQueryBuilder(Character, 'c')
        .setLock('pessimistic_write')
        .where('c.id = ANY(:ids)', { ids: dto.ids })
        .andWhere('c.owner_id = :owner', { owner: viewer.userId })
        .getMany();
      const ownedIds = new Set(before.map((r) => r.id));
      const missing = dto.ids.map((id, i) => ({ id, i })).filter(({ id }) => !ownedIds.has(id));
      if (missing.length > 0) {
        throw new ApiError(
          HttpStatus.NOT_FOUND,
          'CHARACTERS_NOT_FOUND',
          `${missing.length} of the characters do not exist or are not yours; nothing was changed`,
          missing.slice(0, 20).map(({ i }) => ({ field: `ids[${i}]`, message: 'not found' })),
        );
      }
      await m.createQueryBuilder().update(Character).set(changes).where('id = ANY(:ids)', { ids: dto.ids }).execute();
      const after = new Map(
        (await m.createQueryBuilder(Character, 'c').where('c.id = ANY(:ids)', { ids: dto.ids }).getMany()).map((c) => [c.id, c]),
      );
      const tags = new Set(before.flatMap((b) => characterWriteTags(b, after.get(b.id)!)));
      const items = dto.ids.map((id) => ({ id, version: after.get(id)!.version }));
      return { result: { updated: items.length, items }, tags: [...tags] };
    });
  }

  /** The character if this viewer may change it: 404 when they cannot even see it, 403 when they see but do not own it. */
  async findWritable(id: string, viewer: Viewer, manager: EntityManager = this.db.manager): Promise<Character> {
    const character = await manager.findOne(Character, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!character || !canViewCharacter(character, viewer)) {
      throw ApiError.notFound('Character');
    }
    if (character.ownerId !== viewer.userId && !isAdmin(viewer)) {
      throw ApiError.forbidden('NOT_OWNER', 'Only the owner can change this character');
    }
    return character;
  }

  /** The columns of a CharacterResponse, with the image count of a view. */
  private selectCharacters(view: CharacterView): SelectQueryBuilder<Character> {
    return this.db
      .createQueryBuilder(Character, 'c')
      .innerJoin(User, 'u', 'u.id = c.owner_id')
      .leftJoin(Image, 'a', 'a.id = c.avatar_image_id')
      .select([
        'c.id AS id',
        'c.owner_id AS owner_id',
        'u.username AS owner_username',
        'c.name AS name',
        'c.description AS description',
        'c.tags AS tags',
        // An nsfw image is never the face of an sfw character: its avatar is shown to everyone who sees it.
        `CASE WHEN ${NSFW_AVATAR} THEN NULL ELSE c.avatar_image_id END AS avatar_image_id`,
        `CASE WHEN ${NSFW_AVATAR} THEN NULL ELSE a.storage_key END AS avatar_key`,
        'c.visibility AS visibility',
        'c.nsfw AS nsfw',
        'c.premium AS premium',
        'c.featured AS featured',
        'c.featured_rank AS featured_rank',
        `${IMAGE_COUNT[view]} AS image_count`,
        'c.created_at AS created_at',
        'c.updated_at AS updated_at',
        'c.version AS version',
      ]);
  }

  private toResponse(row: CharacterRow): CharacterResponse {
    return toCharacterResponse(row, (key) => this.cdn.urlOrNull(key));
  }
}
