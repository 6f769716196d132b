/**
 * Remembers, per key and per tag, the sequence number of the last invalidation this instance saw (its own or
 * from the bus). A load that started before an invalidation of its key or tags must not store its result: it may
 * have read the database before the write, and would otherwise cache stale data for a whole TTL.
 */
export class InvalidationClock {
  private seq = 0;
  private readonly keys = new Map<string, number>();
  private readonly tags = new Map<string, number>();
  private clearedAt = 0;

  now(): number {
    return this.seq;
  }

  keysInvalidated(keys: readonly string[]): void {
    const s = ++this.seq;
    keys.forEach((k) => this.keys.set(k, s));
    this.trim(this.keys);
  }

  tagsInvalidated(tags: readonly string[]): void {
    const s = ++this.seq;
    tags.forEach((t) => this.tags.set(t, s));
    this.trim(this.tags);
  }

  everythingInvalidated(): void {
    this.clearedAt = ++this.seq;
  }

  changedSince(since: number, key: string, tags: readonly string[]): boolean {
    return (
      this.clearedAt > since ||
      (this.keys.get(key) ?? 0) > since ||
      tags.some((t) => (this.tags.get(t) ?? 0) > since)
    );
  }

  /** `changedSince` for an entry: its key, and the tags it was stamped with (`[tag, version]`). */
  entryChangedSince(since: number, key: string, stamps: readonly (readonly [string, number])[]): boolean {
    if (since === this.seq) {
      return false;
    }
    if (this.clearedAt > since || (this.keys.get(key) ?? 0) > since) {
      return true;
    }
    for (const [tag] of stamps) {
      if ((this.tags.get(tag) ?? 0) > since) {
        return true;
      }
    }
    return false;
  }

  /**
   * Old marks only matter to loads that started before them. When the map grows, marks before a cutoff are
   * dropped and any load older than the cutoff is treated as invalidated (safe: it just does not store).
   */
  private trim(map: Map<string, number>): void {
    if (map.size > 50_000) {
      const cutoff = this.seq - 25_000;
      this.clearedAt = Math.max(this.clearedAt, cutoff);
      for (const [k, s] of map) {
        if (s < cutoff) {
          map.delete(k);
        }
      }
    }
  }
}
