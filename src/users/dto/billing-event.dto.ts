import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsObject, IsString, IsUUID, ValidateBy, ValidateNested } from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';
import { IsDateTime } from '../../common/http/is-date-time.decorator';
import { LowerCaseUuid } from '../../common/http/uuid-param.decorator';
import { SetSubscriptionDto } from './set-subscription.dto';

const MAX_CLOCK_AHEAD_MS = 24 * 3_600_000;

export const BILLING_EVENT_TYPES = ['subscription.updated'] as const;

/** What the billing provider posts to /webhooks/billing (signed: X-Signature: sha256=<hex of the raw body>). */
export class BillingEventDto {
  @ApiProperty()
  @IsString()
  @CharLength(1, 128)
  id: string;

  @ApiProperty({ enum: BILLING_EVENT_TYPES })
  @IsIn(BILLING_EVENT_TYPES)
  type: (typeof BILLING_EVENT_TYPES)[number];

  @ApiProperty({ format: 'date-time' })
  @IsDateTime()
  @ValidateBy({
    name: 'notFarAhead',
    validator: {
      // The provider's clock may run a little ahead of ours; a date far ahead would lock the subscription for good.
      validate: (value: unknown) => typeof value !== 'string' || Date.parse(value) <= Date.now() + MAX_CLOCK_AHEAD_MS,
      defaultMessage: () => 'occurredAt is more than a day in the future',
    },
  })
  occurredAt: string;

  @ApiProperty({ format: 'uuid' })
  @LowerCaseUuid()
  @IsUUID()
  userId: string;

  @ApiProperty({ type: SetSubscriptionDto })
  @IsDefined()
  @IsObject({ message: 'subscription must be an object' })
  @ValidateNested()
  @Type(() => SetSubscriptionDto)
  subscription: SetSubscriptionDto;
}
