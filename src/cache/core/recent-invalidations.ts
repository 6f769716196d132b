/** What `RecentInvalidations.since` hands back to be done again. */
export interface InvalidationsToRedo {
  keys: string[];
  /** Tags invalidated in `remove` mode at least once in the window. */
  hardTags: string[];
  /** Tags only ever invalidated in `expire` mode. */
  softTags: string[];
}

interface Done {
  /** performance.now() when it last reached Redis */
  at: number;
  hard: boolean;
}

/**
 * The invalidations this instance made that reached Redis lately: keys deleted or overwritten, tags bumped. Redis
 * can lose its last writes and keep older ones — a failover to a replica that had not received them yet, a
 * restart from an append-only file synced once a second — and then serve entries those writes had invalidated,
 * as fresh, until their TTL. Nothing in the entries can tell: the tag key came back with the version they were
 * stamped with. So after a reconnect, whatever was done shortly before the connection was lost is done again
 * (see CacheService.redoRecent); doing it twice only costs the entries written since a miss.
 *
 * One record per key or tag (the latest), in the order they were last done. Records older than the window are
 * dropped as new ones come, never by a timer: after an outage, what was done just before it must still be here
 * when the connection is back. At most `max` records are kept.
 */
export class RecentInvalidations {
  private readonly keys = new Map<string, Done>();
  private readonly tags = new Map<string, Done>();

  constructor(
    readonly windowMs: number,
    private readonly max: number,
  ) {}

  keysDone(keys: readonly string[], now: number): void {
    if (this.windowMs > 0) {
      keys.forEach((key) => this.put(this.keys, key, now, false));
    }
  }

  tagsDone(tags: readonly string[], hard: boolean, now: number): void {
    if (this.windowMs > 0) {
      tags.forEach((tag) => this.put(this.tags, tag, now, hard || (this.tags.get(tag)?.hard ?? false)));
    }
  }

  /** Drops what was done longer than the window before `now`; call it only when Redis has just answered. */
  prune(now: number): void {
    for (const records of [this.keys, this.tags]) {
      for (const [name, done] of records) {
        if (done.at >= now - this.windowMs) {
          break;
        }
        records.delete(name);
      }
    }
  }

  /** What was done at or after `from` (performance.now()). */
  since(from: number): InvalidationsToRedo {
    const redo: InvalidationsToRedo = { keys: [], hardTags: [], softTags: [] };
    this.keys.forEach((done, key) => done.at >= from && redo.keys.push(key));
    this.tags.forEach((done, tag) => done.at >= from && (done.hard ? redo.hardTags : redo.softTags).push(tag));
    return redo;
  }

  get size(): number {
    return this.keys.size + this.tags.size;
  }

  private put(records: Map<string, Done>, name: string, at: number, hard: boolean): void {
    // Deleted first, so the Map's order stays the order things were last done in (what `prune` relies on).
    records.delete(name);
    records.set(name, { at, hard });
    if (this.size > this.max) {
      const oldest = this.oldest();
      oldest?.records.delete(oldest.name);
    }
  }

  private oldest(): { records: Map<string, Done>; name: string } | undefined {
    const key = this.keys.entries().next().value;
    const tag = this.tags.entries().next().value;
    if (!key || (tag && tag[1].at < key[1].at)) {
      return tag && { records: this.tags, name: tag[0] };
    }
    return { records: this.keys, name: key[0] };
  }
}
