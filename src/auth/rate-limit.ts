import { applyDecorators, ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthConfig } from '../config';

/** The routes with a per-client-address limit, each with its own limit, window and counter. */
export type RateLimitedRoute = keyof AuthConfig['rateLimits'];

const RATE_LIMIT = 'auth:rate-limit';

/**
 * Counts this route's requests per client address and answers 429 with `Retry-After` past its limit
 * (`auth.rateLimits[route]`). The guard runs before the handler, so a refused request costs no password hash.
 */
export const RateLimited = (route: RateLimitedRoute): MethodDecorator =>
  applyDecorators(SetMetadata(RATE_LIMIT, route), UseGuards(ThrottlerGuard));

/** The limit that applies to the route being handled: the throttler's options resolve through this. */
export function rateLimitOf(context: ExecutionContext, limits: AuthConfig['rateLimits']): AuthConfig['rateLimits'][RateLimitedRoute] {
  const route = Reflect.getMetadata(RATE_LIMIT, context.getHandler()) as RateLimitedRoute | undefined;
  if (route === undefined) {
    // ThrottlerGuard on a route without @RateLimited would count it under a limit nobody chose.
    throw new Error(`${context.getClass().name}.${context.getHandler().name}: use @RateLimited(route), not ThrottlerGuard alone`);
  }
  return limits[route];
}
