import { LRUCache } from 'lru-cache';
import type { Envelope } from './envelope';

/**
 * What an entry costs besides its bytes, value and key: the envelope and its parsed header (tag stamps
 * included), the buffer's own bookkeeping and the LRU's slot — ~950 heap bytes measured per entry (l1.spec).
 */
const PER_ENTRY_OVERHEAD = 1_000;

/**
 * In-process tier: envelopes by key, bounded by their weight in memory (not by count), least recently used out
 * first: the stored bytes, and the parsed value once a caller has asked for it (an entry weighed before its
 * value was parsed is weighed again at its next read). An entry read past its stale period is judged unusable
 * and deleted by the reader.
 */
export class L1Store {
  private readonly lru: LRUCache<string, Envelope> | null;

  constructor(maxBytes: number) {
    this.lru =
      maxBytes > 0
        ? new LRUCache<string, Envelope>({
            maxSize: maxBytes,
            sizeCalculation: (env, key) => {
              env.weighedParsed = env.hasParsedValue;
              return env.weight + key.length * 2 + PER_ENTRY_OVERHEAD;
            },
          })
        : null;
  }

  get enabled(): boolean {
    return this.lru !== null;
  }

  get(key: string): Envelope | undefined {
    const env = this.lru?.get(key);
    if (env && env.weighedParsed !== env.hasParsedValue) {
      // lru-cache keeps the old size when the same value is set again: take it out and put it back.
      this.lru!.delete(key);
      this.lru!.set(key, env);
    }
    return env;
  }

  set(key: string, envelope: Envelope, now: number): void {
    // No per-entry TTL in the LRU: every read already judges the envelope's own times (an entry past its stale
    // period is 'unusable' and deleted then), and an LRU TTL costs a clock read and a staleness check per get.
    if (this.lru && envelope.header.s > now) {
      envelope.share();
      envelope.own();
      this.lru.set(key, envelope);
    }
  }

  delete(key: string): void {
    this.lru?.delete(key);
  }

  clear(): void {
    this.lru?.clear();
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }

  get bytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }
}
