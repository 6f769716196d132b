import type { SubscriptionTier, UserRole } from '../users/entities/user.entity';

/**
 * Who is asking. Every read whose answer depends on the asker takes a Viewer as an explicit argument, so a cache
 * key can (and must) be built from it. Anonymous viewers are the strictest class.
 */
export interface Viewer {
  userId: string | null;
  role: UserRole | 'anonymous';
  showNsfw: boolean;
  tier: SubscriptionTier;
}

export const ANONYMOUS: Viewer = Object.freeze({ userId: null, role: 'anonymous', showNsfw: false, tier: 'free' });

export const isAdmin = (viewer: Viewer): boolean => viewer.role === 'admin';

/** Premium characters are for plus and pro subscribers (and admins). */
export const canSeePremium = (viewer: Viewer): boolean => viewer.tier !== 'free' || isAdmin(viewer);

/**
 * The visibility class: everything a public list's answer depends on. Viewers of one class see the same lists,
 * so lists can be cached per class rather than per viewer.
 */
export type VisibilityClass = `${'sfw' | 'nsfw'}-${'basic' | 'premium'}`;

export function visibilityClass(viewer: Viewer): VisibilityClass {
  return `${viewer.showNsfw ? 'nsfw' : 'sfw'}-${canSeePremium(viewer) ? 'premium' : 'basic'}`;
}

/** A stand-in viewer with exactly the rights of a class (and no identity): what a class-keyed read runs as. */
export function viewerOfClass(cls: VisibilityClass): Viewer {
  return { userId: null, role: 'user', showNsfw: cls.startsWith('nsfw'), tier: cls.endsWith('premium') ? 'plus' : 'free' };
}
