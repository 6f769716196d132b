import { createSecretKey } from 'node:crypto';
import { ExecutionContext, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthConfig } from '../config';
import { User } from '../users/entities/user.entity';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { JwtAuthGuard } from './jwt-auth.guard';
import { rateLimitOf } from './rate-limit';
import { RateLimitStorageModule, RedisThrottlerStorage } from './redis-throttler.storage';

@Module({
  imports: [
    TypeOrmModule.forFeature([User]),
    JwtModule.registerAsync({
      inject: [ConfigService],
      // A KeyObject, not the string: given a string, jsonwebtoken first tries to parse it as a PEM public key on
      // every verify (an exception with its stack trace each time) before falling back to an HMAC key: ~340 µs per
      // authenticated request against ~7 µs. Same bytes (the secret's UTF-8), so tokens signed either way verify.
      useFactory: (config: ConfigService) => ({
        secret: createSecretKey(Buffer.from(config.getOrThrow<AuthConfig>('auth').jwtSecret, 'utf8')),
      }),
    }),
    // Only the routes marked @RateLimited (login, register) are counted, each against its own limit and counter.
    // Counted in Redis when there is one, so the limit holds across instances.
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [ConfigService, RedisThrottlerStorage],
      useFactory: (config: ConfigService, storage: RedisThrottlerStorage) => {
        const { rateLimits } = config.getOrThrow<AuthConfig>('auth');
        // One throttler named 'default': @nestjs/throttler then sends a plain `Retry-After` (any other name is
        // appended to it). Its counters are per route (the key hashes class and handler), its limits too.
        const throttler = {
          name: 'default',
          limit: (context: ExecutionContext) => rateLimitOf(context, rateLimits).limit,
          ttl: (context: ExecutionContext) => rateLimitOf(context, rateLimits).windowMs,
        };
        return { throttlers: [throttler], storage };
      },
    }),
  ],
  controllers: [AuthController],
  providers: [AuthService, { provide: APP_GUARD, useClass: JwtAuthGuard }],
  exports: [AuthService],
})
export class AuthModule {}
