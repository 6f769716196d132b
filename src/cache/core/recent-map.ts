/**
 * A bounded map that keeps what was used lately: two generations of plain Maps. Writes and promoted reads go to
 * the current one; when it is full it becomes the previous one and the one before is dropped whole. So at most
 * `2 × perGeneration` entries are held, everything used within the last `perGeneration` insertions survives,
 * and a hit in the current generation is one `Map.get` — for an index read on every request, where a true LRU's
 * bookkeeping per read showed as ~2 % of the request's CPU.
 */
export class RecentMap<K, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();

  constructor(private readonly perGeneration: number) {
    if (!(perGeneration >= 1)) {
      throw new Error(`RecentMap needs at least one entry per generation, not ${perGeneration}`);
    }
  }

  get(key: K): V | undefined {
    const value = this.current.get(key);
    if (value !== undefined) {
      return value;
    }
    const older = this.previous.get(key);
    if (older !== undefined) {
      this.previous.delete(key);
      this.put(key, older);
    }
    return older;
  }

  set(key: K, value: V): void {
    this.previous.delete(key);
    this.put(key, value);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private put(key: K, value: V): void {
    this.current.set(key, value);
    if (this.current.size >= this.perGeneration) {
      this.previous = this.current;
      this.current = new Map();
    }
  }
}
