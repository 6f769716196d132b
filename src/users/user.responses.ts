import type { Language, SubscriptionStatus, SubscriptionTier, User, UserRole } from './entities/user.entity';

/** What anyone may see of a user. */
export interface PublicUserResponse {
  id: string;
  username: string;
  createdAt: string;
}

/** What a user sees of themselves (e-mail included); never the password hash. */
export interface OwnUserResponse extends PublicUserResponse {
  email: string;
  role: UserRole;
  preferences: { showNsfw: boolean; language: Language };
  subscription: { tier: SubscriptionTier; status: SubscriptionStatus; renewsAt: string | null };
}

export function toPublicUser(user: User): PublicUserResponse {
  return { id: user.id, username: user.username, createdAt: user.createdAt.toISOString() };
}

export function toOwnUser(user: User): OwnUserResponse {
  return {
    ...toPublicUser(user),
    email: user.email,
    role: user.role,
    preferences: { showNsfw: user.preferences.showNsfw, language: user.preferences.language },
    subscription: {
      tier: user.subscriptionTier,
      status: user.subscriptionStatus,
      renewsAt: user.subscriptionRenewsAt?.toISOString() ?? null,
    },
  };
}

/** A canceled subscription no longer unlocks premium content. */
export function effectiveTier(user: Pick<User, 'subscriptionTier' | 'subscriptionStatus'>): SubscriptionTier {
  return user.subscriptionStatus === 'canceled' ? 'free' : user.subscriptionTier;
}

/** Everything cached about one user (rights, own profile): evicted by preference and subscription changes. */
export const userTag = (userId: string): string => `user:${userId}`;
