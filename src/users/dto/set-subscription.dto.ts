import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { IsDateTime } from '../../common/http/is-date-time.decorator';
import { Omittable } from '../../common/http/omittable.decorator';
import {
  SUBSCRIPTION_STATUSES,
  SUBSCRIPTION_TIERS,
  SubscriptionStatus,
  SubscriptionTier,
} from '../entities/user.entity';

export class SetSubscriptionDto {
  @ApiProperty({ enum: SUBSCRIPTION_TIERS })
  @IsIn(SUBSCRIPTION_TIERS)
  tier: SubscriptionTier;

  @ApiProperty({ enum: SUBSCRIPTION_STATUSES })
  @IsIn(SUBSCRIPTION_STATUSES)
  status: SubscriptionStatus;

  @ApiPropertyOptional({ nullable: true, format: 'date-time' })
  @Omittable({ nullable: true })
  @IsDateTime()
  renewsAt?: string | null;
}
