import type { SelectQueryBuilder } from 'typeorm';
import { canSeePremium, isAdmin, Viewer } from '../auth/viewer';
import type { Visibility } from './entities/character.entity';

export interface VisibilityFacts {
  ownerId: string;
  visibility: Visibility;
  nsfw: boolean;
  premium: boolean;
}

/**
 * Who may open a character by id. Owners and admins see everything; others never see private characters,
 * nsfw ones only when their preference allows, premium ones only on plus/pro. Unlisted opens by id.
 * Anyone refused gets the same 404 as for a missing id: existence is not disclosed.
 */
export function canViewCharacter(character: VisibilityFacts, viewer: Viewer): boolean {
  if (isAdmin(viewer) || character.ownerId === viewer.userId) {
    return true;
  }
  return (
    character.visibility !== 'private' &&
    (!character.nsfw || viewer.showNsfw) &&
    (!character.premium || canSeePremium(viewer))
  );
}

/**
 * Which of a character's images its `imageCount` counts, and its `popular` order goes by: `all` for viewers who
 * see nsfw images (by preference, or admins), `sfw` for the others, who are never told how many nsfw images a
 * character has. A character's owner sees all of its images too (CharactersService.get); in public lists, which
 * are shared by everyone of a class, they see what their class sees.
 */
export type CharacterView = 'all' | 'sfw';

export function characterView(viewer: Viewer): CharacterView {
  return isAdmin(viewer) || viewer.showNsfw ? 'all' : 'sfw';
}

/**
 * The same rule for browsing lists, as SQL: lists show public characters only (unlisted ones open by id but are
 * never listed), filtered by the viewer's nsfw preference and tier. Premium characters are left out of lists
 * for free viewers (not shown as locked).
 */
export function applyListVisibility<T extends object>(qb: SelectQueryBuilder<T>, viewer: Viewer, alias = 'c'): void {
  qb.andWhere(`${alias}.visibility = 'public'`);
  if (!viewer.showNsfw) {
    qb.andWhere(`${alias}.nsfw = false`);
  }
  if (!canSeePremium(viewer)) {
    qb.andWhere(`${alias}.premium = false`);
  }
}
