import { applyDecorators, CanActivate, ExecutionContext, HttpStatus, Injectable, SetMetadata, UseGuards } from '@nestjs/common';
import type { RawBodyRequest } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { WebhooksConfig } from '../../config';
import { ApiError } from '../errors/api-error';
import { callbackToken, sameHex, verifyHmacSignature } from './hmac';

type SecretName = 'billingSecret' | 'generatorSecret';
const WEBHOOK_SECRET = 'webhook:secret';

interface WebhookCheck {
  secret: SecretName;
  /**
   * A route parameter the body's signature does not cover, tied to the delivery by a `?token=` in the URL the
   * sender was handed (see callbackToken): a delivery made for one id cannot be replayed against another.
   */
  tokenFor?: string;
}

/**
 * Runs before pipes, so an unsigned or tampered request is refused (401) before its body is even validated and
 * learns nothing about the schema.
 */
@Injectable()
export class SignedWebhookGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: ConfigService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const check = this.reflector.getAllAndOverride<WebhookCheck>(WEBHOOK_SECRET, [context.getHandler(), context.getClass()]);
    const secret = this.config.getOrThrow<WebhooksConfig>('webhooks')[check.secret];
    const req = context.switchToHttp().getRequest<RawBodyRequest<FastifyRequest>>();
    if (!verifyHmacSignature(secret, req.rawBody, req.headers['x-signature'])) {
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'INVALID_SIGNATURE', 'The webhook signature does not match');
    }
    if (check.tokenFor !== undefined) {
      const id = (req.params as Record<string, string | undefined>)[check.tokenFor] ?? '';
      if (!sameHex(callbackToken(secret, id), (req.query as Record<string, unknown>).token)) {
        throw new ApiError(HttpStatus.UNAUTHORIZED, 'INVALID_SIGNATURE', `The callback token does not match this ${check.tokenFor}`);
      }
    }
    return true;
  }
}

/**
 * The request must carry `X-Signature: sha256=<HMAC-SHA256 of the raw body>` made with the named secret, and,
 * with `tokenFor`, the `?token=` of that route parameter's callback URL.
 */
export const SignedWebhook = (secret: SecretName, options: { tokenFor?: string } = {}): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(WEBHOOK_SECRET, { secret, ...options } satisfies WebhookCheck), UseGuards(SignedWebhookGuard));
