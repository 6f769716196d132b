import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsString, IsUUID, MaxLength, ValidateNested } from 'class-validator';
import { LowerCaseUuid } from '../../common/http/uuid-param.decorator';
import { SetSubscriptionDto } from './set-subscription.dto';

export const BILLING_EVENT_TYPES = ['subscription.updated'] as const;

/** What the billing provider posts to /webhooks/billing (signed: X-Signature: sha256=<hex of the raw body>). */
export class BillingEventDto {
  @ApiProperty()
  @IsString()
  @MaxLength(128)
  id: string;

  @ApiProperty({ enum: BILLING_EVENT_TYPES })
  @IsIn(BILLING_EVENT_TYPES)
  type: (typeof BILLING_EVENT_TYPES)[number];

  @ApiProperty({ format: 'date-time' })
  @IsISO8601({ strict: true })
  occurredAt: string;

  @ApiProperty({ format: 'uuid' })
  @LowerCaseUuid()
  @IsUUID()
  userId: string;

  @ApiProperty({ type: SetSubscriptionDto })
  @ValidateNested()
  @Type(() => SetSubscriptionDto)
  subscription: SetSubscriptionDto;
}
