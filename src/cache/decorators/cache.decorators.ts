/* eslint-disable @typescript-eslint/no-explicit-any */
import { SetMetadata } from '@nestjs/common';
import { CACHE_EVICT, CACHE_PUT, CACHEABLE, CACHEABLE_BATCH } from '../cache.constants';
import type { CacheableBatchPolicy, CacheablePolicy, CacheEvictPolicy, CachePutPolicy } from './cache-policies';

/**
 * The decorated method must be async, return R, and take (at least) the arguments the policy's functions take,
 * in order. A key function may use fewer arguments than the method has.
 */
type MethodDecoratorFor<A extends unknown[], R> = <M extends (...args: any[]) => Promise<R>>(
  target: object,
  key: string | symbol,
  descriptor: Parameters<M> extends [...A, ...unknown[]]
    ? TypedPropertyDescriptor<M>
    : { 'the policy functions take arguments the method does not have': A },
) => void;

/**
 * Caches an async service method's result under `namespace` + `key(...args)`.
 *
 * ```ts
 * @Cacheable({ namespace: 'characters:detail', scope: 'public', key: (id: string) => [id], ttl: '10m', grace: '1h' })
 * async load(id: string): Promise<CharacterResponse | null> { … }
 * ```
 * Only metadata is stored here; CacheExplorer wraps the method of each provider instance at startup.
 */
export function Cacheable<A extends unknown[], R>(policy: CacheablePolicy<A, R>): MethodDecoratorFor<A, R> {
  return only(CACHEABLE, policy, '@Cacheable');
}

const STORING = [CACHEABLE, CACHE_PUT, CACHEABLE_BATCH];

/**
 * One of @Cacheable, @CachePut and @CacheableBatch, which a method takes at most once: a second one would
 * overwrite the first's metadata, and one of two namespaces would silently never be written. An error when the
 * class is defined.
 */
function only(metadataKey: string, policy: object, name: string): MethodDecoratorFor<any[], any> {
  return ((target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<unknown>) => {
    const method = descriptor.value as object;
    if (STORING.some((other) => Reflect.hasOwnMetadata(other, method))) {
      const owner = (target as { constructor?: { name?: string } }).constructor?.name ?? 'a class';
      throw new Error(`${owner}.${String(key)}: ${name} on a method that already has @Cacheable, @CachePut or @CacheableBatch: use one`);
    }
    SetMetadata(metadataKey, policy)(target, key, descriptor);
  }) as MethodDecoratorFor<any[], any>;
}

/** Always runs the method and stores its result (e.g. after a write, to warm the entry readers will ask for). */
export function CachePut<A extends unknown[], R>(policy: CachePutPolicy<A, R>): MethodDecoratorFor<A, R> {
  return only(CACHE_PUT, policy, '@CachePut');
}

/**
 * Evicts keys, tags and/or namespaces after the method succeeds (or before it runs). Stackable: each
 * `@CacheEvict` on a method adds to the list.
 */
export function CacheEvict<A extends unknown[], R>(policy: CacheEvictPolicy<A, R>): MethodDecoratorFor<A, R> {
  return ((_target: object, _key: string | symbol, descriptor: TypedPropertyDescriptor<unknown>) => {
    const method = descriptor.value as object;
    const existing = (Reflect.getMetadata(CACHE_EVICT, method) as CacheEvictPolicy<A, R>[] | undefined) ?? [];
    Reflect.defineMetadata(CACHE_EVICT, [...existing, policy], method);
  }) as MethodDecoratorFor<A, R>;
}

/**
 * Caches a method of shape `(ids, ...rest) => Promise<result per id>` item by item: one MGET for all ids, and
 * the method is called only with the ids that missed.
 */
export function CacheableBatch<I, Rest extends unknown[], R>(
  policy: CacheableBatchPolicy<I, Rest, R>,
): MethodDecoratorFor<[readonly I[], ...Rest], (R | null)[]> {
  return only(CACHEABLE_BATCH, policy, '@CacheableBatch');
}
