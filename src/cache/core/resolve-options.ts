import type { CacheModuleOptions, ResolvedCacheOptions } from '../cache.options';
import { toMs } from './duration';
import { encodeKeyPart } from './keys';

export function resolveCacheOptions(options: CacheModuleOptions): ResolvedCacheOptions {
  const prefix = `${encodeKeyPart(options.prefix)}:c${options.schemaVersion ?? 1}`;
  const jitter = options.jitter ?? 0.1;
  if (jitter < 0 || jitter >= 1) {
    throw new Error(`cache jitter must be in [0, 1): ${jitter}`);
  }
  const maxPendingInvalidations = options.maxPendingInvalidations ?? 10_000;
  if (!Number.isInteger(maxPendingInvalidations) || maxPendingInvalidations < 1) {
    // Nothing could wait for Redis: every invalidation made while it is out would be lost.
    throw new Error(`cache maxPendingInvalidations must be a whole number of at least 1: ${maxPendingInvalidations}`);
  }
  return {
    keyPrefix: prefix,
    busChannel: `${prefix}:bus`,
    redis: options.redis?.url || options.redis?.sentinel || options.redis?.cluster ? options.redis : null,
    commandTimeoutMs: options.commandTimeoutMs ?? 200,
    l1MaxBytes: options.l1MaxBytes ?? 64 * 1024 * 1024,
    defaultTtlMs: toMs(options.defaultTtl ?? '5m'),
    defaultGraceMs: toMs(options.defaultGrace ?? 0),
    jitter,
    maxEntryLifetimeMs: toMs(options.maxEntryLifetime ?? '7d'),
    hardTimeoutMs: toMs(options.hardTimeout ?? '10s'),
    tagRecheckMs: toMs(options.tagRecheckInterval ?? '1s'),
    busHeartbeatMs: toMs(options.busHeartbeat ?? '5s'),
    breaker: { failureThreshold: options.breaker?.failureThreshold ?? 3, openMs: options.breaker?.openMs ?? 1_000 },
    logIntervalMs: toMs(options.logInterval ?? '30s'),
    maxPendingInvalidations,
    redoWindowMs: toMs(options.redoWindow ?? '10s'),
  };
}
