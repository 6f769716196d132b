import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CACHE_EVICT, CACHE_PUT, CACHEABLE, CACHEABLE_BATCH } from './cache.constants';
import type { CacheableBatchPolicy, CacheablePolicy, CacheEvictPolicy, CachePutPolicy } from './decorators/cache-policies';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface MethodCacheMetadata {
  cacheable?: CacheablePolicy<any[], any>;
  put?: CachePutPolicy<any[], any>;
  evict?: CacheEvictPolicy<any[], any>[];
  batch?: CacheableBatchPolicy<any, any[], any>;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Typed reads of the decorators' metadata. */
@Injectable()
export class CacheMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  read(method: (...args: unknown[]) => unknown): MethodCacheMetadata | null {
    const metadata: MethodCacheMetadata = {
      cacheable: this.reflector.get(CACHEABLE, method),
      put: this.reflector.get(CACHE_PUT, method),
      evict: this.reflector.get(CACHE_EVICT, method),
      batch: this.reflector.get(CACHEABLE_BATCH, method),
    };
    return Object.values(metadata).some((v) => v !== undefined) ? metadata : null;
  }
}
