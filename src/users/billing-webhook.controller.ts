import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators';
import { SignedWebhook } from '../common/http/signed-webhook.guard';
import { BillingEventDto } from './dto/billing-event.dto';
import { UsersService } from './users.service';

@ApiTags('webhooks')
@Public()
@Controller('webhooks/billing')
export class BillingWebhookController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @HttpCode(200)
  @SignedWebhook('billingSecret')
  @ApiHeader({ name: 'X-Signature', description: 'sha256=<hex HMAC-SHA256 of the raw body>' })
  async receive(@Body() event: BillingEventDto): Promise<{ applied: boolean }> {
    const applied = await this.users.setSubscription(event.userId, event.subscription, new Date(event.occurredAt), event.id);
    return { applied };
  }
}
