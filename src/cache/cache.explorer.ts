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
 * Decorators on a request-scoped or transient provider are a boot error (there is no single instance to wrap,
 * and the unwrapped ones would skip their evictions), and so are decorators on controller methods: routes are
 * bound before this runs, so they would silently not cache. With caching disabled the methods are wrapped too:
 * they run uncached, and their writes still invalidate (see createCachedMethod).
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
    if (!this.cache.enabled) {
      this.logger.warn('Caching is disabled (CACHE_ENABLED=false): decorated methods run uncached, and still invalidate');
    }
    for (const provider of this.discovery.getProviders()) {
      this.wrapProvider(provider);
    }
  }

  private wrapProvider(provider: InstanceWrapper): void {
    const methods = this.decoratedMethods(provider);
    if (methods.length === 0) {
      return;
    }
    if (!provider.isDependencyTreeStatic() || provider.isTransient) {
      // Only the one instance found here is wrapped: the instances Nest makes per request or per consumer would
      // run undecorated, and an @CacheEvict there would leave every entry it should remove.
      const why = provider.isTransient ? 'transient' : 'request-scoped (itself, or through a provider it injects)';
      throw new Error(`${provider.name}.${methods[0]}: cache decorators need a singleton provider, and ${provider.name} is ${why}`);
    }
    const instance = provider.instance as Methods;
    if (this.wrapped.has(instance)) {
      return;
    }
    this.wrapped.add(instance);
    for (const name of methods) {
      const original = instance[name];
      const where = `${provider.name}.${name}`;
      instance[name] = createCachedMethod(this.cache, where, original, this.accessor.read(original)!, instance.constructor as never);
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
