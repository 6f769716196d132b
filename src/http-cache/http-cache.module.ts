import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { HttpCacheInterceptor } from './http-cache.interceptor';
import { ResponseReplay } from './response-replay';

/**
 * ETag / 304, Cache-Control, Vary and X-Cache on responses served from the cache, sent as stored bytes; and the
 * early replay of anonymous answers on routes marked `@ReplayFromCache()`.
 */
@Module({ providers: [ResponseReplay, { provide: APP_INTERCEPTOR, useClass: HttpCacheInterceptor }] })
export class HttpCacheModule {}
