import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { CacheMetadataAccessor } from './cache-metadata.accessor';
import { CacheService } from './cache.service';
import { createCachedMethod } from './cached-method.factory';

type Methods = Record<string, (...args: unknown[]) => Promise<unknown>>;

/**
 * Finds decorated methods on every provider at startup and replaces them, on the instance, with caching
 * wrappers (the class itself is untouched). Each instance is wrapped once even when several modules export it.
 * Request-scoped providers are skipped with a warning (they have no single instance to wrap). Decorators on
 * controller methods are a boot error: routes are bound before this runs, so they would silently not cache.
 */
@Injectable()
export class CacheExplorer implements OnModuleInit {
  private readonly logger = new Logger('CacheExplorer');
  private readonly wrapped = new WeakSet<object>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: CacheMetadataAccessor,
    private readonly cache: CacheService,
  ) {}

  onModuleInit(): void {
    for (const controller of this.discovery.getControllers()) {
      const [method] = this.decoratedMethods(controller);
      if (method) {
        throw new Error(
          `${controller.name}.${method}: cache decorators belong on service methods, not controller handlers`,
        );
      }
    }
    if (this.cache.enabled) {
      for (const provider of this.discovery.getProviders()) {
        this.wrapProvider(provider);
      }
    } else {
      this.logger.warn('Caching is disabled (CACHE_ENABLED=false): decorated methods run uncached');
    }
  }

  private wrapProvider(provider: InstanceWrapper): void {
    const methods = this.decoratedMethods(provider);
    if (methods.length === 0) {
      return;
    }
    if (!provider.isDependencyTreeStatic()) {
      this.logger.warn(`${provider.name} is request-scoped: its cache decorators are ignored`);
      return;
    }
    const instance = provider.instance as Methods;
    if (this.wrapped.has(instance)) {
      return;
    }
    this.wrapped.add(instance);
    for (const name of methods) {
      const original = instance[name];
      const where = `${provider.name}.${name}`;
      instance[name] = createCachedMethod(this.cache, where, original, this.accessor.read(original)!);
    }
  }

  private decoratedMethods(wrapper: InstanceWrapper): string[] {
    const instance = wrapper.instance as object | undefined;
    if (!instance || typeof instance !== 'object') {
      return [];
    }
    const prototype = Object.getPrototypeOf(instance) as Methods;
    return this.scanner
      .getAllMethodNames(prototype)
      .filter((name) => typeof prototype[name] === 'function' && this.accessor.read(prototype[name]) !== null);
  }
}
