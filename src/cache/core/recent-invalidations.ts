/** What `RecentInvalidations.since` hands back to be done again. */
export interface InvalidationsToRedo {
  keys: string[];
  /** Tags invalidated in `remove` mode at least once since the time asked for. */
  hardTags: string[];
  /** Tags invalidated since then, in `expire` mode only. */
  softTags: string[];
}

interface Done {
  /** performance.now() when it last reached Redis */
  at: number;
  /** when it last reached Redis in `remove` mode (tags only; -Infinity if never) */
  hardAt: number;
}

/**
 * The invalidations this instance made that reached Redis lately: keys deleted or overwritten, tags bumped. Redis
 * can lose its last writes and keep older ones — a failover to a replica that had not received them yet, a
 * restart from an append-only file synced once a second — and then serve entries those writes had invalidated,
 * as fresh, until their TTL. Nothing in the entries can tell: the tag key came back with the version they were
 * stamped with. So after a reconnect, whatever was done shortly before the connection was lost is done again
 * (see PendingInvalidations.redoRecent); doing it twice only costs the entries written since a miss.
 *
 * One record per key or tag (the latest), in the order they were last done. Records older than the window are
 * dropped as new ones come, never by a timer: after an outage, what was done just before it must still be here
 * when the connection is back. At most `max` records are kept.
 */
export class RecentInvalidations {
  private readonly keys = new Map<string, Done>();
  private readonly tags = new Map<string, Done>();
  /** When the latest record was made (-Infinity before the first). */
  latestAt = -Infinity;

  constructor(
    readonly windowMs: number,
    private readonly max: number,
  ) {}

  /** Returns how many records still inside the window had to go to stay within `max` (see `put`). */
  keysDone(keys: readonly string[], now: number): number {
    let dropped = 0;
    keys.forEach((key) => (dropped += this.put(this.keys, key, now, -Infinity)));
    return dropped;
  }

  /** As `keysDone`. */
  tagsDone(tags: readonly string[], hard: boolean, now: number): number {
    let dropped = 0;
    tags.forEach((tag) => (dropped += this.put(this.tags, tag, now, hard ? now : (this.tags.get(tag)?.hardAt ?? -Infinity))));
    return dropped;
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
    this.tags.forEach((done, tag) => done.at >= from && (done.hardAt >= from ? redo.hardTags : redo.softTags).push(tag));
    return redo;
  }

  get size(): number {
    return this.keys.size + this.tags.size;
  }

  /** 1 when the oldest record had to go while still inside the window (of `at`), else 0. Nothing with no window. */
  private put(records: Map<string, Done>, name: string, at: number, hardAt: number): number {
    if (this.windowMs <= 0) {
      return 0;
    }
    this.latestAt = at;
    // Deleted first, so the Map's order stays the order things were last done in (what `prune` relies on).
    records.delete(name);
    records.set(name, { at, hardAt });
    if (this.size <= this.max) {
      return 0;
    }
    const oldest = this.oldest()!;
    oldest.records.delete(oldest.name);
    return oldest.at >= at - this.windowMs ? 1 : 0;
  }

  private oldest(): { records: Map<string, Done>; name: string; at: number } | undefined {
    const key = this.keys.entries().next().value;
    const tag = this.tags.entries().next().value;
    if (!key || (tag && tag[1].at < key[1].at)) {
      return tag && { records: this.tags, name: tag[0], at: tag[1].at };
    }
    return { records: this.keys, name: key[0], at: key[1].at };
  }
}
