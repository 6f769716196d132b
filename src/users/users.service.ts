import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Cacheable, CacheEvict } from '../cache';
import { ApiError } from '../common/errors/api-error';
import { UpdatePreferencesDto } from './dto/update-preferences.dto';
import { SetSubscriptionDto } from './dto/set-subscription.dto';
import { User } from './entities/user.entity';
import { OwnUserResponse, PublicUserResponse, toOwnUser, toPublicUser, userTag } from './user.responses';

@Injectable()
export class UsersService {
  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  /** Not cached: it carries the e-mail address, and nothing personal of that kind enters the cache. */
  async getOwn(userId: string): Promise<OwnUserResponse> {
    return toOwnUser(await this.findOrFail(userId));
  }

  @Cacheable({
    namespace: 'users:profile',
    scope: 'public',
    key: (username: string) => [username],
    ttl: '15m',
    tags: (profile: PublicUserResponse) => [userTag(profile.id)],
  })
  async getPublicProfile(username: string): Promise<PublicUserResponse> {
    const user = await this.users.findOneBy({ username });
    if (!user) {
      throw ApiError.notFound('User');
    }
    return toPublicUser(user);
  }

  async updatePreferences(userId: string, dto: UpdatePreferencesDto): Promise<OwnUserResponse> {
    if (Object.values(dto).every((v) => v === undefined)) {
      // Nothing to apply: answering 200 would tell the client a change was saved (and bump updated_at for nothing).
      throw ApiError.badRequest('body', 'Give at least one field to change');
    }
    await this.applyPreferences(userId, dto);
    return this.getOwn(userId);
  }

  @CacheEvict({ tags: (_r: void | undefined, userId: string) => [userTag(userId)] })
  async applyPreferences(userId: string, dto: UpdatePreferencesDto): Promise<void> {
    // jsonb `||` merges in the database, so two concurrent partial updates cannot erase each other's fields.
    const patch = JSON.stringify(Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined)));
    await this.users
      .createQueryBuilder()
      .update()
      .set({ preferences: () => `preferences || :patch::jsonb`, updatedAt: () => 'now()' })
      .setParameter('patch', patch)
      .where('id = :id', { id: userId })
      .execute();
  }

  /**
   * Applies a subscription change. `occurredAt` (from the billing provider) orders events: one older than the
   * last applied change is ignored, so a late or replayed delivery never rolls a subscription back.
   * With the provider's `eventId`, an event already applied is ignored too, whatever its time (a repeat with
   * the same `occurredAt` as a newer event would otherwise pass). Returns false when the event was ignored.
   */
  @CacheEvict({ tags: (_applied: boolean | undefined, userId: string) => [userTag(userId)] })
  async setSubscription(userId: string, dto: SetSubscriptionDto, occurredAt = new Date(), eventId?: string): Promise<boolean> {
    await this.findOrFail(userId);
    return this.users.manager.transaction(async (m) => {
      if (eventId !== undefined) {
        const recorded: unknown[] = await m.query(
          `INSERT INTO billing_events (id, user_id, occurred_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id`,
          [eventId, userId, occurredAt],
        );
        if (recorded.length === 0) {
          return false;
        }
      }
      return this.applySubscription(m.getRepository(User), userId, dto, occurredAt);
    });
  }

  private async applySubscription(users: Repository<User>, userId: string, dto: SetSubscriptionDto, occurredAt: Date): Promise<boolean> {
    const result = await users
      .createQueryBuilder()
      .update()
      .set({
        subscriptionTier: dto.tier,
        subscriptionStatus: dto.status,
        subscriptionRenewsAt: dto.renewsAt ? new Date(dto.renewsAt) : null,
        subscriptionUpdatedAt: occurredAt,
      })
      .where('id = :id', { id: userId })
      .andWhere('(subscription_updated_at IS NULL OR subscription_updated_at <= :at)', { at: occurredAt })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  private async findOrFail(id: string): Promise<User> {
    const user = await this.users.findOneBy({ id });
    if (!user) {
      throw ApiError.notFound('User');
    }
    return user;
  }
}
