import type { KeyPart } from '../cache';
import type { ListCharactersQuery } from './dto/list-characters.query';

/**
 * What the character caches are keyed and tagged by. Keys follow the brief's layout
 * (`characters:list:{mode}:{page}:{viewer?}`, `characters:detail:{id}`), except that the featured list is keyed
 * by visibility class where the brief has a user id (`characters:featured:{visibility class}`): every viewer of a
 * class sees the same list, so they share one entry. A detail ends with its view (`:all` or `:sfw`, see
 * CharacterView): its image count depends on it. Tags say which writes make an entry wrong.
 */
export const CHARACTER_CACHE = {
  detail: 'characters:detail',
  list: 'characters:list',
  featured: 'characters:featured',
} as const;

/** One character: its detail, and every cached list that contains it. */
export const characterTag = (id: string): string => `character:${id}`;
/** Every public list (any mode, any filter) and the featured lists: membership may change. */
export const PUBLIC_LISTS = 'chl:public';
/** Public lists of one mode: their order may change. */
export const modeTag = (mode: string): string => `chl:mode:${mode}`;
/** Public lists filtered by one tag. */
export const tagFilterTag = (tag: string): string => `chl:tag:${tag}`;
/** Public lists filtered by a search (`q`). */
export const SEARCH_LISTS = 'chl:q';
/** One owner's `mine` lists. */
export const mineTag = (ownerId: string): string => `chl:mine:${ownerId}`;

/** The list key after the mode: page, limit and the normalized filters (absent filters spelled `-`). */
export function listKey(query: ListCharactersQuery): KeyPart[] {
  return [query.mode, query.page, query.limit, query.tag ?? '-', query.q ?? '-'];
}

/** Tags of a cached list page: what it is a list of, plus every character it shows. */
export function listTags(query: ListCharactersQuery, itemIds: readonly string[], ownerId?: string): string[] {
  const own = ownerId ? [mineTag(ownerId)] : [PUBLIC_LISTS, modeTag(query.mode)];
  const filters = ownerId ? [] : [...(query.tag ? [tagFilterTag(query.tag)] : []), ...(query.q ? [SEARCH_LISTS] : [])];
  return [...own, ...filters, ...itemIds.map(characterTag)];
}

/** The facts of a character that decide which lists it is in and where. */
export interface ListFacts {
  id: string;
  ownerId: string;
  name: string;
  description: string;
  tags: readonly string[];
  visibility: string;
  nsfw: boolean;
  premium: boolean;
  featured: boolean;
  featuredRank: number | null;
  imageCount: number;
}

/**
 * Tags to invalidate for a write that turned `before` into `after` (null: created / deleted). Lists that
 * contain the character are reached through its own tag; lists whose membership or order may change are
 * reached by mode, filter or "all public lists" — only as wide as the change requires.
 */
export function characterWriteTags(before: ListFacts | null, after: ListFacts | null): string[] {
  const subject = (after ?? before)!;
  const tags = new Set<string>([characterTag(subject.id), mineTag(subject.ownerId)]);
  const wasPublic = before?.visibility === 'public';
  const isPublic = after?.visibility === 'public';
  if (!wasPublic && !isPublic) {
    return [...tags];
  }
  if (!before || !after || wasPublic !== isPublic || before.nsfw !== after.nsfw || before.premium !== after.premium) {
    tags.add(PUBLIC_LISTS);
    return [...tags];
  }
  if (before.name !== after.name) {
    tags.add(modeTag('all'));
    tags.add(SEARCH_LISTS);
  }
  if (before.description !== after.description) {
    tags.add(SEARCH_LISTS);
  }
  if (before.featured !== after.featured || before.featuredRank !== after.featuredRank) {
    tags.add(modeTag('featured'));
  }
  if (before.imageCount !== after.imageCount) {
    tags.add(modeTag('popular'));
  }
  const changedTags = [...before.tags.filter((t) => !after.tags.includes(t)), ...after.tags.filter((t) => !before.tags.includes(t))];
  changedTags.forEach((t) => tags.add(tagFilterTag(t)));
  return [...tags];
}
