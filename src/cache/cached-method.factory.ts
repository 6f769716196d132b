import type { CacheService } from './cache.service';
import { BATCH_LEASE_REFUSED, cacheKey, CacheKey, CachePolicy, EvictMode, NamespaceOwner } from './cache.types';
import type { MethodCacheMetadata } from './cache-metadata.accessor';
import type { KeyPart } from './core/keys';
import { copyMethodMetadata } from './copy-method-metadata';
import { CacheContext } from './cache-context';
import type { CacheEvictPolicy, CacheScope } from './decorators/cache-policies';

/* eslint-disable @typescript-eslint/no-explicit-any */
type AnyMethod = (...args: any[]) => Promise<any>;
type TagsOption = readonly string[] | ((result: any, ...args: any[]) => readonly string[]) | undefined;

/** Refuses at boot what the types refuse at compile time (for callers who bypass them). */
function checkScope(scope: CacheScope<any[]> | undefined, where: string): void {
  if (!scope || (scope.scope !== 'public' && scope.scope !== 'viewer')) {
    throw new Error(`${where}: declare scope: 'public' or 'viewer' (who the cached answer is for)`);
  }
  if (scope.scope === 'viewer' && typeof scope.viewer !== 'function') {
    throw new Error(`${where}: scope 'viewer' needs viewer: (...args) => the viewer's id, which joins the key`);
  }
}

function scopedParts(scope: CacheScope<any[]>, parts: readonly KeyPart[], args: unknown[], where: string): KeyPart[] {
  if (scope.scope === 'public') {
    return [...parts];
  }
  const viewer: unknown = scope.viewer(...args);
  if (viewer === null || viewer === undefined || viewer === '') {
    throw new Error(`${where}: viewer-scoped cache call without a viewer id`);
  }
  if (typeof viewer !== 'string' && typeof viewer !== 'number') {
    // A `viewer` typed `any` that hands back the whole user: every viewer would be `[object Object]`, one key.
    throw new Error(`${where}: the viewer id must be a string or a number, not ${Array.isArray(viewer) ? 'an array' : typeof viewer}`);
  }
  return [...parts, '@viewer', viewer];
}

function tagsFor(tags: TagsOption, args: unknown[]): CachePolicy['tags'] {
  return typeof tags === 'function' ? (value: unknown) => tags(value, ...args) : tags;
}

async function evict(cache: CacheService, specs: CacheEvictPolicy<any[], any>[], result: unknown, args: unknown[]): Promise<void> {
  // All keys (and all tags) of one mode in one call each: one round trip per kind, whatever the number.
  for (const mode of ['remove', 'expire'] as EvictMode[]) {
    const ofMode = specs.filter((s) => (s.mode ?? 'remove') === mode);
    const keys: CacheKey[] = ofMode.flatMap((s) => s.keys?.(result, ...args) ?? []);
    const tags = ofMode.flatMap((s) => (typeof s.tags === 'function' ? s.tags(result, ...args) : (s.tags ?? [])));
    const namespaces = ofMode.flatMap((s) => (s.namespace === undefined ? [] : ([] as string[]).concat(s.namespace)));
    await Promise.all([
      cache.delete(keys, mode),
      cache.invalidateTags(tags, mode),
      ...namespaces.map((ns) => cache.clearNamespace(ns, mode)),
    ]);
  }
}

/**
 * Builds the replacement for one decorated method. It keeps the method's contract: same name and metadata,
 * `this` preserved, still async, errors from the method propagate unchanged.
 */
export function createCachedMethod(
  cache: CacheService,
  where: string,
  original: AnyMethod,
  meta: MethodCacheMetadata,
  owner?: NamespaceOwner['type'],
): AnyMethod {
  const exclusive = [meta.cacheable, meta.put, meta.batch].filter(Boolean).length;
  if (exclusive > 1) {
    throw new Error(`${where}: use only one of @Cacheable, @CachePut and @CacheableBatch on a method`);
  }
  if (original.constructor.name !== 'AsyncFunction') {
    throw new Error(`${where}: cache decorators need an async method (declare it "async")`);
  }
  let method: AnyMethod = original;
  const declared = meta.cacheable ?? meta.put ?? meta.batch;
  if (declared) {
    try {
      cache.declareNamespace(declared.namespace, owner && { type: owner, where });
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
  }

  if (meta.cacheable) {
    const policy = meta.cacheable;
    checkScope(policy, where);
    method = async function (this: unknown, ...args: unknown[]) {
      if (policy.condition && !policy.condition(...args)) {
        CacheContext.uncached();
        return original.apply(this, args);
      }
      const key = cacheKey(policy.namespace, ...scopedParts(policy, policy.key(...args), args, where));
      const unless = policy.unless;
      return cache.getOrSet(key, () => original.apply(this, args), {
        ...policy,
        tags: tagsFor(policy.tags, args),
        tagsBefore: policy.argTags?.(...args),
        unless: unless ? (value) => unless(value, ...args) : undefined,
      });
    };
  } else if (meta.put) {
    const policy = meta.put;
    checkScope(policy, where);
    method = async function (this: unknown, ...args: unknown[]) {
      const result: unknown = await original.apply(this, args);
      const key = cacheKey(policy.namespace, ...scopedParts(policy, policy.key(result, ...args), args, where));
      if (policy.unless?.(result, ...args)) {
        // Not stored, but the method ran (a write): what the key held before must not outlive it.
        await cache.delete([key]);
      } else {
        await cache.set(key, result, { ...policy, tags: tagsFor(policy.tags, args) });
      }
      return result;
    };
  } else if (meta.batch) {
    const policy = meta.batch;
    checkScope(policy, where);
    if (policy.lease) {
      throw new Error(`${where}: @CacheableBatch ${BATCH_LEASE_REFUSED}`);
    }
    method = async function (this: unknown, ids: readonly unknown[], ...rest: unknown[]) {
      const args = [ids, ...rest];
      const keys = ids.map((id) => cacheKey(policy.namespace, ...scopedParts(policy, policy.key(id, ...rest), args, where)));
      const { tags, argTags } = policy;
      return cache.getMany(
        keys,
        (indexes) => original.apply(this, [indexes.map((i) => ids[i]), ...rest]),
        { ...policy, tags: typeof tags === 'function' ? undefined : tags },
        {
          tags: typeof tags === 'function' ? (value, i) => tags(value, ids[i], ...rest) : undefined,
          tagsBefore: argTags ? (i) => argTags(ids[i], ...rest) : undefined,
        },
      );
    };
  }

  if (meta.evict?.length) {
    const before = meta.evict.filter((s) => s.beforeInvocation);
    const after = meta.evict.filter((s) => !s.beforeInvocation);
    const inner = method;
    method = async function (this: unknown, ...args: unknown[]) {
      if (before.length > 0) {
        await evict(cache, before, undefined, args);
      }
      const result: unknown = await inner.apply(this, args);
      if (after.length > 0) {
        await evict(cache, after, result, args);
      }
      return result;
    };
  }
  copyMethodMetadata(original, method);
  return method;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
