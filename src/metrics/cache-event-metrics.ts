import { Histogram, Registry } from 'prom-client';
import { CacheMetrics } from '../cache';
import { counter, followedCounter } from './prom-helpers';

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const REDIS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5];

/** What the cache counts as it happens (`CacheMetrics.subscribe`): reads, loads, stale serves, errors, evictions. */
export function recordCacheEvents(registry: Registry, metrics: CacheMetrics): void {
  // Reads and stale serves are counted by CacheMetrics itself (a Map bump per read, the hot path) and read here
  // at scrape time.
  followedCounter(
    registry,
    'cache_gets_total',
    'Cache reads by namespace, tier (l1, l2, none) and result (hit, miss, stale)',
    ['namespace', 'tier', 'result'],
    () => metrics.gets,
    (key) => CacheMetrics.labelsOfGet(key),
  );
  const loads = counter(
    registry,
    'cache_loads_total',
    'Loader runs after a miss, by namespace and result (ok, error)',
    ['namespace', 'result'],
  );
  const loadSeconds = new Histogram({
    name: 'cache_load_duration_seconds',
    help: 'How long loaders ran, by namespace',
    labelNames: ['namespace'],
    buckets: SECONDS,
    registers: [registry],
  });
  followedCounter(
    registry,
    'cache_stale_served_total',
    'Stale entries served (grace or fail-safe), by namespace',
    ['namespace'],
    () => metrics.staleServed,
    (namespace) => ({ namespace }),
  );
  const errors = counter(
    registry,
    'cache_errors_total',
    'Redis commands that failed or were skipped, by kind (timeout, connection, command, skipped; stuck: a connection replaced after it stopped answering; oom: a write Redis refused for lack of memory; readonly: a write refused by a replica, after which the connection is remade)',
    ['kind'],
  );
  const evictions = counter(
    registry,
    'cache_evictions_total',
    'Explicit evictions (keys, namespaces), by namespace',
    ['namespace'],
  );
  const refusals = counter(
    registry,
    'cache_values_refused_total',
    'Loaded or given values not cached because they are not plain JSON (a Date, a class instance, a Map, a cycle, …), by namespace and kind: a programming error the caller never sees',
    ['namespace', 'kind'],
  );
  const tagInvalidations = counter(
    registry,
    'cache_tag_invalidations_total',
    'Tags invalidated (each reaches every entry that carries it, in any namespace), by group: the part of the tag before its first colon',
    ['group'],
  );
  const commandSeconds = new Histogram({
    name: 'cache_redis_command_duration_seconds',
    help: 'Latency of the Redis commands the cache sent',
    buckets: REDIS_SECONDS,
    registers: [registry],
  });

  metrics.subscribe((event, labels, value) => {
    switch (event) {
      case 'load':
      case 'load_error':
        loads.inc({ namespace: labels.namespace, result: event === 'load' ? 'ok' : 'error' });
        loadSeconds.observe({ namespace: labels.namespace }, value);
        break;
      case 'eviction':
        evictions.inc({ namespace: labels.namespace }, value);
        break;
      case 'refused':
        refusals.inc({ namespace: labels.namespace, kind: labels.kind });
        break;
      case 'tag_invalidation':
        tagInvalidations.inc({ group: labels.group }, value);
        break;
      case 'redis_error':
        errors.inc({ kind: labels.kind });
        break;
      case 'redis_command':
        commandSeconds.observe(value);
        break;
      default:
        break;
    }
  });
}
