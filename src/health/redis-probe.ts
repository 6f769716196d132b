import { Cluster } from 'ioredis';
import { closeRedisClient, createRedisClient, RedisClient, RedisConnectionOptions } from '../cache';

/** One look at Redis from the health sampler. */
export interface RedisSample {
  /** when it was taken (epoch ms) */
  at: number;
  ok: boolean;
  /** why not ok */
  problem?: 'unreachable' | 'timeout' | 'error';
  pingMs: number | null;
  usedMemoryBytes: number | null;
  /** 0: no limit */
  maxMemoryBytes: number | null;
  maxMemoryPolicy: string | null;
  /** keys Redis evicted for memory since it started (summed over the masters of a cluster) */
  evictedKeys: number | null;
}

type ProbeClient = RedisClient;

/**
 * A connection of the health sampler's own to the cache's Redis (standalone, Sentinel or Cluster, from the same
 * options): PING for latency, INFO memory/stats for memory and evictions. It is not the cache's connection, so
 * sampling neither queues behind cache traffic nor trips the cache's breaker; every command is bounded by a
 * short timeout and fails at once while the connection is down.
 */
export class RedisProbe {
  readonly client: ProbeClient;

  constructor(connection: RedisConnectionOptions, timeoutMs: number) {
    this.client = createRedisClient(connection, timeoutMs, 'health');
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  async sample(): Promise<RedisSample> {
    const at = Date.now();
    if (!this.ready) {
      return down(at, 'unreachable');
    }
    try {
      const started = performance.now();
      await this.client.ping();
      const pingMs = round(performance.now() - started);
      const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
      const infos = await Promise.all(
        nodes.map(async (node) => parseInfo(`${await node.info('memory')}\n${await node.info('stats')}`)),
      );
      const sum = (field: string) => infos.reduce((total, info) => total + Number(info.get(field) ?? 0), 0);
      return {
        at,
        ok: true,
        pingMs,
        usedMemoryBytes: sum('used_memory'),
        // One node without a limit makes the whole unlimited.
        maxMemoryBytes: infos.some((info) => Number(info.get('maxmemory') ?? 0) === 0) ? 0 : sum('maxmemory'),
        maxMemoryPolicy: infos[0]?.get('maxmemory_policy') ?? null,
        evictedKeys: sum('evicted_keys'),
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return down(at, /timed? ?out/i.test(message) ? 'timeout' : this.ready ? 'error' : 'unreachable');
    }
  }

  close(): Promise<void> {
    return closeRedisClient(this.client);
  }
}

export function down(at: number, problem: RedisSample['problem']): RedisSample {
  return {
    at,
    ok: false,
    problem,
    pingMs: null,
    usedMemoryBytes: null,
    maxMemoryBytes: null,
    maxMemoryPolicy: null,
    evictedKeys: null,
  };
}

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) {
      fields.set(line.slice(0, at), line.slice(at + 1).trim());
    }
  }
  return fields;
}

const round = (ms: number) => Math.round(ms * 100) / 100;
