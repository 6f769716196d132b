import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { callbackToken, hmacSha256Hex } from '../common/http/hmac';
import type { AppConfig, WebhooksConfig } from '../config';

/** What the generator receives: the job, and where to post its result. */
export interface GeneratorJob {
  jobId: string;
  characterId: string;
  prompt: string;
  parameters: Record<string, unknown>;
  callbackUrl: string;
}

export type DispatchOutcome = { accepted: true } | { accepted: false; reason: string };

/**
 * The one outbound call to the image generator: a JSON POST signed like the callbacks it sends back
 * (`X-Signature: sha256=<HMAC of the exact body bytes>`), bounded by GENERATOR_TIMEOUT_MS. It never throws: every
 * failure becomes a short reason that is safe to store and show (no secret, no stack, no response body).
 */
@Injectable()
export class GeneratorClient {
  private readonly logger = new Logger(GeneratorClient.name);
  private readonly webhooks: WebhooksConfig;
  private readonly publicBaseUrl: string;

  constructor(config: ConfigService) {
    this.webhooks = config.getOrThrow<WebhooksConfig>('webhooks');
    this.publicBaseUrl = config.getOrThrow<AppConfig>('app').publicBaseUrl;
  }

  /** Without GENERATOR_URL jobs stay queued: a worker or an operator picks them up from the table. */
  get configured(): boolean {
    return this.webhooks.generatorUrl !== undefined;
  }

  /** Where the generator posts the result; its token ties a delivery to this job (see callbackToken). */
  callbackUrl(jobId: string): string {
    return `${this.publicBaseUrl}/webhooks/generations/${jobId}?token=${callbackToken(this.webhooks.generatorSecret, jobId)}`;
  }

  async dispatch(job: Omit<GeneratorJob, 'callbackUrl'>): Promise<DispatchOutcome> {
    const { generatorUrl, generatorSecret, generatorTimeoutMs } = this.webhooks;
    if (generatorUrl === undefined) {
      return { accepted: false, reason: 'no generator is configured' };
    }
    const body = JSON.stringify({ ...job, callbackUrl: this.callbackUrl(job.jobId) } satisfies GeneratorJob);
    const outcome = await this.post(generatorUrl, body, generatorSecret, generatorTimeoutMs);
    if (!outcome.accepted) {
      this.logger.warn(`generation ${job.jobId} not dispatched: ${outcome.reason}`);
    }
    return outcome;
  }

  private async post(url: string, body: string, secret: string, timeoutMs: number): Promise<DispatchOutcome> {
    let status: number;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-signature': `sha256=${hmacSha256Hex(secret, body)}`,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      // Only the status matters; the body is dropped unread so the connection is released at once.
      await response.body?.cancel().catch(() => undefined);
    } catch (error) {
      return { accepted: false, reason: describeFailure(error, timeoutMs) };
    }
    return status >= 200 && status < 300
      ? { accepted: true }
      : { accepted: false, reason: `generator answered HTTP ${status}` };
  }
}

/** A short, safe reason: the error class and a system code, never the message chain or stack. */
function describeFailure(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return `generator did not answer within ${timeoutMs} ms`;
  }
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)
    ? `generator unreachable (${code})`
    : 'generator unreachable';
}
