import { registerAs } from '@nestjs/config';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, IsUrl, Max, Min, MinLength } from 'class-validator';
import { isProduction, refuseDefaultSecret, validateEnv } from './validate-env';

const DEV_BILLING_SECRET = 'dev-only-billing-webhook-secret-0123456789';
const DEV_GENERATOR_SECRET = 'dev-only-generator-webhook-secret-012345678';

class WebhooksEnv {
  @IsString()
  @MinLength(16, { message: 'BILLING_WEBHOOK_SECRET must be at least 16 characters' })
  BILLING_WEBHOOK_SECRET = DEV_BILLING_SECRET;

  /** Shared with the image generator: signs the jobs we send and the results it posts back. */
  @IsString()
  @MinLength(16, { message: 'GENERATOR_WEBHOOK_SECRET must be at least 16 characters' })
  GENERATOR_WEBHOOK_SECRET = DEV_GENERATOR_SECRET;

  /** Unset: generation jobs stay queued for an operator or a worker to pick up. */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  GENERATOR_URL?: string;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(60_000)
  GENERATOR_TIMEOUT_MS = 5_000;
}

export const webhooksConfig = registerAs('webhooks', () => {
  const env = validateEnv(WebhooksEnv, process.env);
  const production = isProduction(process.env);
  refuseDefaultSecret('BILLING_WEBHOOK_SECRET', env.BILLING_WEBHOOK_SECRET, DEV_BILLING_SECRET, production);
  refuseDefaultSecret('GENERATOR_WEBHOOK_SECRET', env.GENERATOR_WEBHOOK_SECRET, DEV_GENERATOR_SECRET, production);
  return {
    billingSecret: env.BILLING_WEBHOOK_SECRET,
    generatorSecret: env.GENERATOR_WEBHOOK_SECRET,
    generatorUrl: env.GENERATOR_URL,
    generatorTimeoutMs: env.GENERATOR_TIMEOUT_MS,
  };
});
export type WebhooksConfig = ReturnType<typeof webhooksConfig>;
