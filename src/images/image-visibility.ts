import { isAdmin, Viewer } from '../auth/viewer';
import { canViewCharacter, VisibilityFacts } from '../characters/character-visibility';

export interface ImageFacts {
  nsfw: boolean;
}

/**
 * Who may see an image: whoever may open its character (the same rule as `canViewCharacter`), provided the
 * image is not nsfw, or the viewer's preference allows nsfw, or they own the character or are an admin (only
 * they can upload, so this covers the uploader). Refused means 404, as for characters. Galleries apply the same
 * rule by image class (see images.service.ts).
 */
export function canViewImage(image: ImageFacts, character: VisibilityFacts, viewer: Viewer): boolean {
  return (
    canViewCharacter(character, viewer) &&
    (!image.nsfw || viewer.showNsfw || isAdmin(viewer) || viewer.userId === character.ownerId)
  );
}
