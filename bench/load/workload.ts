/** mulberry32: a small seeded PRNG, so every system gets the very same request sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Draws ranks 0..n-1 with P(k) ∝ 1 / (k + 1)^s (s = 1: the classic web-popularity shape). */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / Math.pow(k + 1, s);
    cumulative[k] = sum;
  }
  return () => {
    const target = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid] < target) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  };
}

/** Shuffles a copy (Fisher–Yates with the given PRNG): popularity rank is not id order. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

export const LIST_LIMIT = 20;
export const listPath = (page: number, mode = 'all') => `/characters?mode=${mode}&page=${page}&limit=${LIST_LIMIT}`;
export const detailPath = (id: string) => `/characters/${id}`;
export const galleryPath = (id: string) => `/characters/${id}/images?page=1&limit=12`;

/** Zipf over list pages and character details together (anonymous): the pages and details a crowd browses. */
export function zipfPaths(pages: number, ids: readonly string[], count: number, seed: number): string[] {
  const random = prng(seed);
  const universe = shuffled([...Array.from({ length: pages }, (_, i) => listPath(i + 1)), ...ids.map(detailPath)], random);
  const rank = zipf(universe.length, 1, random);
  return Array.from({ length: count }, () => universe[rank()]);
}

/**
 * What the harness knows was committed: for each character written through one system, its versions in commit
 * order, each with the number of writes committed before it. A read sent after write #n must show at least the
 * version that write produced — anything older is a stale read.
 */
export class WriteLedger {
  /** Writes whose answer has arrived (so they are committed, and their evictions done). */
  committed = 0;
  stale: { path: string; id: string; saw: number; expected: number }[] = [];
  private readonly history = new Map<string, { seq: number; version: number }[]>();

  record(id: string, version: number): void {
    this.committed++;
    const list = this.history.get(id) ?? [];
    list.push({ seq: this.committed, version });
    this.history.set(id, list);
  }

  /** The lowest version a read sent when `sentAt` writes were committed may show. */
  expected(id: string, sentAt: number): number {
    const list = this.history.get(id);
    let version = 0;
    for (const entry of list ?? []) {
      if (entry.seq <= sentAt && entry.version > version) {
        version = entry.version;
      }
    }
    return version;
  }

  has(id: string): boolean {
    return this.history.has(id);
  }

  ids(): string[] {
    return [...this.history.keys()];
  }

  /** Checks every character of an answer (a detail, or a list's items) against what was committed before it. */
  checkAnswer(path: string, body: string, sentAt: number): void {
    if (this.history.size === 0) {
      return;
    }
    const parsed = JSON.parse(body) as { id?: string; version?: number; items?: { id: string; version?: number }[] };
    const characters = parsed.items ?? [parsed];
    for (const c of characters) {
      if (c.id && c.version !== undefined && this.has(c.id)) {
        const expected = this.expected(c.id, sentAt);
        if (c.version < expected) {
          this.stale.push({ path, id: c.id, saw: c.version, expected });
        }
      }
    }
  }
}
