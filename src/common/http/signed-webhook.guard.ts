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
    const name = this.reflector.getAllAndOverride<SecretName>(WEBHOOK_SECRET, [context.getHandler(), context.getClass()]);
    const secret = this.config.getOrThrow<WebhooksConfig>('webhooks')[name];
    const req = context.switchToHttp().getRequest<RawBodyRequest<FastifyRequest>>();
    if (!verifyHmacSignature(secret, req.rawBody, req.headers['x-signature'])) {
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'INVALID_SIGNATURE', 'The webhook signature does not match');
    }
    // A generator callback names its job in the path, which the body's signature does not cover: the token the
    // callback URL carries ties the delivery to that job (see callbackToken).
    const jobId = (req.params as Record<string, string | undefined>).jobId;
    if (name === 'generatorSecret' && jobId !== undefined) {
      const token = (req.query as Record<string, unknown>).token;
      if (!sameHex(callbackToken(secret, jobId), token)) {
        throw new ApiError(HttpStatus.UNAUTHORIZED, 'INVALID_SIGNATURE', 'The callback token does not match this job');
      }
    }
    return true;
  }
}

/** The request must carry `X-Signature: sha256=<HMAC-SHA256 of the raw body>` made with the named secret. */
export const SignedWebhook = (secret: SecretName): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(WEBHOOK_SECRET, secret), UseGuards(SignedWebhookGuard));
