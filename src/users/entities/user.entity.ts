import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const SUBSCRIPTION_TIERS = ['free', 'plus', 'pro'] as const;
export type SubscriptionTier = (typeof SUBSCRIPTION_TIERS)[number];

export const SUBSCRIPTION_STATUSES = ['active', 'past_due', 'canceled'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export const LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'pt', 'ja', 'ko', 'zh'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface UserPreferences {
  showNsfw: boolean;
  language: Language;
}

export const DEFAULT_PREFERENCES: UserPreferences = { showNsfw: false, language: 'en' };

@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 32, unique: true })
  username: string;

  /** Stored lower-cased; unique. Never leaves the service except to its owner. */
  @Column({ type: 'varchar', length: 254, unique: true })
  email: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 255, select: false })
  passwordHash: string;

  @Column({ type: 'varchar', length: 16, default: 'user' })
  role: UserRole;

  @Column({ type: 'jsonb', default: () => `'${JSON.stringify(DEFAULT_PREFERENCES)}'::jsonb` })
  preferences: UserPreferences;

  @Column({ name: 'subscription_tier', type: 'varchar', length: 16, default: 'free' })
  subscriptionTier: SubscriptionTier;

  @Column({ name: 'subscription_status', type: 'varchar', length: 16, default: 'active' })
  subscriptionStatus: SubscriptionStatus;

  @Column({ name: 'subscription_renews_at', type: 'timestamptz', nullable: true })
  subscriptionRenewsAt: Date | null;

  /** When the billing provider's last applied event happened: older events arriving late are ignored. */
  @Column({ name: 'subscription_updated_at', type: 'timestamptz', nullable: true })
  subscriptionUpdatedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
