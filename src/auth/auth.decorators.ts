import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { UserRole } from '../users/entities/user.entity';
import { ANONYMOUS, Viewer } from './viewer';

export const IS_PUBLIC = 'auth:public';
export const ROLES = 'auth:roles';

/** The route answers anonymous callers too (a valid token, when sent, still identifies the viewer). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Only callers with one of these roles get through. */
export const Roles = (...roles: UserRole[]): MethodDecorator & ClassDecorator => SetMetadata(ROLES, roles);

export interface AuthenticatedRequest extends FastifyRequest {
  viewer?: Viewer;
}

/** The caller as a Viewer (anonymous on public routes without a token). */
export const CurrentUser = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Viewer =>
    ctx.switchToHttp().getRequest<AuthenticatedRequest>().viewer ?? ANONYMOUS,
);
