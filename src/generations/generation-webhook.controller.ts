import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiHeader, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators';
import { UuidParam } from '../common/http/uuid-param.decorator';
import { SignedWebhook } from '../common/http/signed-webhook.guard';
import { GenerationCallbackDto } from './dto/generation-callback.dto';
import { GenerationsService } from './generations.service';

/** Where the generator posts results. Repeat deliveries are answered `{ applied: false }` and change nothing. */
@ApiTags('webhooks')
@Public()
@Controller('webhooks/generations')
export class GenerationWebhookController {
  constructor(private readonly generations: GenerationsService) {}

  @Post(':jobId')
  @HttpCode(200)
  @SignedWebhook('generatorSecret', { tokenFor: 'jobId' })
  @ApiHeader({ name: 'X-Signature', description: 'sha256=<hex HMAC-SHA256 of the raw body>' })
  @ApiQuery({ name: 'token', description: 'from the callback URL handed to the generator with the job' })
  receive(
    @UuidParam('jobId') jobId: string,
    @Body() dto: GenerationCallbackDto,
  ): Promise<{ applied: boolean }> {
    return this.generations.applyCallback(jobId, dto);
  }
}
