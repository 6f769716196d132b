import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CacheExplorer } from './cache.explorer';
import { CacheMetadataAccessor } from './cache-metadata.accessor';
import { ConfigurableModuleClass } from './cache.module-definition';
import { CacheService } from './cache.service';

/**
 * The caching library: `RedisCacheModule.forRoot({ prefix, redis })` or `.forRootAsync({ useFactory, inject })`,
 * global by default. Provides CacheService and wires `@Cacheable` / `@CachePut` / `@CacheEvict` /
 * `@CacheableBatch` on every provider.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [CacheService, CacheExplorer, CacheMetadataAccessor],
  exports: [CacheService],
})
export class RedisCacheModule extends ConfigurableModuleClass {}
