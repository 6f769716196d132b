import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiError } from '../common/errors/api-error';
import type { UserRole } from '../users/entities/user.entity';
import { AuthenticatedRequest, IS_PUBLIC, ROLES } from './auth.decorators';
import { AuthService } from './auth.service';

/**
 * Global guard: every route needs a valid bearer token unless marked `@Public()`. A token that is sent must be
 * valid even on public routes: a broken token is a client bug worth a 401, not a silent anonymous answer.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) ?? false;
    const roles = this.reflector.getAllAndOverride<UserRole[] | undefined>(ROLES, targets);
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;

    if (header === undefined) {
      if (isPublic) {
        return true;
      }
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'AUTH_REQUIRED', 'A bearer token is required');
    }
    const match = /^Bearer ([A-Za-z0-9\-_.]+)$/.exec(header);
    if (!match) {
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'INVALID_TOKEN', 'Authorization must be "Bearer <token>"');
    }
    request.viewer = await this.auth.viewerFromToken(match[1]);
    if (roles && !roles.includes(request.viewer.role as UserRole)) {
      throw ApiError.forbidden('FORBIDDEN_ROLE', 'This action needs a different role');
    }
    return true;
  }
}
