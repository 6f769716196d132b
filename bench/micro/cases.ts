import { isDeepStrictEqual } from 'node:util';
import { cacheKey, CacheService, Envelope } from '../../src/cache';
import type { CacheKey } from '../../src/cache';
import type { Payload } from './payloads';
import type { Systems } from './systems';

/** `group`: rows measured together, slice by slice, so a ratio between them is not a ratio between two moments. */
export const ROWS = [
  { id: 'l1-hit', group: 'l1-hit', title: '1. L1 hit: getOrSet, in-process only' },
  { id: 'tiered-hit', group: 'tiered-hit', title: '2. tiered getOrSet, L1 holds it' },
  { id: 'tiered-get', group: 'tiered-get', title: '2b. tiered get(), L1 holds it' },
  { id: 'l2-hit', group: 'l2-hit', title: '3. L2 hit: getOrSet, Redis only' },
  { id: 'l2-miss', group: 'l2-miss', title: '4. L2 getOrSet miss → load → set (new key)' },
  { id: 'l2-set', group: 'l2-set', title: '5. set (Redis)' },
  { id: 'tiered-set', group: 'tiered-set', title: '5b. set, L1 + Redis (+ bus where there is one)' },
  { id: 'raw-get', group: 'l2-hit', title: '6. raw ioredis getBuffer (L2 floor)' },
  { id: 'raw-get-parse', group: 'l2-hit', title: '6b. raw getBuffer + JSON.parse' },
] as const;

export type RowId = (typeof ROWS)[number]['id'];
export type SystemId = 'ours' | 'bentocache' | 'cache-manager' | 'ioredis';

export interface Case {
  row: RowId;
  system: SystemId;
  /** How the system is set up for this row, for the results. */
  setup: string;
  payload: Payload;
  /** Operations per timed sample: in-process operations are too short to time one at a time. */
  batch: number;
  /** What a valid run looks like: a hit row that ran its loader measured misses. */
  expect: { loads: 'none' | 'every-op'; redis: 'none' | 'per-op' };
  /** Warms the key and checks, once, that the value read back equals the payload. Throws if it does not. */
  prepare(): Promise<void>;
  /** Untimed, before each sample: a fresh key and a fresh value (as a database would return) for write rows. */
  next?(): void;
  op(): Promise<unknown>;
  loads(): number;
  /** Hits as the engine itself counts them (ours only). */
  hits?(): number;
}

const HOUR_MS = 3_600_000;
const WRITE_TTL_MS = 10_000;
const HIT_BATCH = 100;

/** What every system needs for one payload: a loader that counts its calls, fresh values, fresh keys. */
class Fixture {
  loads = 0;
  value: unknown;
  seq = 0;

  constructor(readonly payload: Payload) {
    this.value = structuredClone(payload.value);
  }

  /** Counts its calls and returns the current value (a fresh copy after `fresh()`, as a database would give). */
  loader = async (): Promise<unknown> => {
    this.loads++;
    return this.value;
  };

  fresh(): void {
    this.value = structuredClone(this.payload.value);
    this.seq++;
  }

  check(system: SystemId, row: RowId, value: unknown): void {
    if (!isDeepStrictEqual(value, this.payload.value)) {
      throw new Error(`${system} ${row} ${this.payload.label}: the value read back differs from the payload`);
    }
  }
}

function hitPrepare(f: Fixture, system: SystemId, row: RowId, op: () => Promise<unknown>) {
  return async () => {
    await op();
    f.check(system, row, await op());
    if (f.loads !== 1) {
      throw new Error(
        `${system} ${row} ${f.payload.label}: warming ran the loader ${f.loads} times, expected 1`,
      );
    }
  };
}

function writePrepare(
  f: Fixture,
  system: SystemId,
  row: RowId,
  op: () => Promise<unknown>,
  readBack: () => Promise<unknown>,
) {
  return async () => {
    f.fresh();
    await op();
    f.check(system, row, await readBack());
  };
}

/** What every system's case of a row shares: one op per sample, and by default no loads and a Redis command per op. */
function caseOf(
  system: SystemId,
  row: RowId,
  setup: string,
  p: Payload,
  f: Fixture,
  rest: Partial<Case> & Pick<Case, 'op' | 'prepare'>,
): Case {
  return {
    row,
    system,
    setup,
    payload: p,
    batch: 1,
    expect: { loads: 'none', redis: 'per-op' },
    loads: () => f.loads,
    ...rest,
  };
}

function ours(s: Systems, p: Payload): Case[] {
  const cases: Case[] = [];
  const add = (
    row: RowId,
    service: CacheService,
    setup: string,
    build: (f: Fixture, key: () => CacheKey) => Partial<Case> & Pick<Case, 'op' | 'prepare'>,
  ) => {
    const f = new Fixture(p);
    const key = () => cacheKey(row, p.label);
    const tier = row === 'l2-hit' ? 'l2' : 'l1';
    const hits =
      row === 'l2-miss' || row === 'l2-set' || row === 'tiered-set' ? undefined : () => service.metrics.count(row, tier, 'hit');
    cases.push(caseOf('ours', row, setup, p, f, { hits, ...build(f, key) }));
  };
  const hit = (f: Fixture, service: CacheService, key: () => CacheKey) => {
    const op = () => service.getOrSet(key(), f.loader, { ttl: HOUR_MS });
    return { op, prepare: hitPrepare(f, 'ours', key().namespace as RowId, op) };
  };
  const set = (f: Fixture, service: CacheService, key: () => CacheKey) => {
    const op = () => service.set(key(), f.value, { ttl: WRITE_TTL_MS });
    return { op, next: () => f.fresh(), prepare: writePrepare(f, 'ours', key().namespace as RowId, op, () => service.get(key())) };
  };
  add('l1-hit', s.ours.l1Only, 'CacheService, redis: null', (f, key) => ({
    ...hit(f, s.ours.l1Only, key),
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('tiered-hit', s.ours.tiered, 'CacheService, default config + Redis', (f, key) => ({
    ...hit(f, s.ours.tiered, key),
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('tiered-get', s.ours.tiered, 'CacheService, default config + Redis', (f, key) => ({
    op: () => s.ours.tiered.get(key()),
    prepare: async () => {
      await s.ours.tiered.getOrSet(key(), f.loader, { ttl: HOUR_MS });
      f.check('ours', 'tiered-get', await s.ours.tiered.get(key()));
    },
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('l2-hit', s.ours.l2Only, 'CacheService, l1MaxBytes: 0', (f, key) => hit(f, s.ours.l2Only, key));
  add('l2-miss', s.ours.l2Only, 'CacheService, l1MaxBytes: 0', (f) => {
    const key = () => cacheKey('l2-miss', p.label, f.seq);
    const op = () => s.ours.l2Only.getOrSet(key(), f.loader, { ttl: WRITE_TTL_MS });
    return {
      op,
      next: () => f.fresh(),
      expect: { loads: 'every-op', redis: 'per-op' },
      prepare: writePrepare(f, 'ours', 'l2-miss', op, () => s.ours.l2Only.get(key())),
    };
  });
  add('l2-set', s.ours.l2Only, 'CacheService, l1MaxBytes: 0', (f, key) => set(f, s.ours.l2Only, key));
  // What a deployment of several instances runs: the set also tells the others to drop their L1 copies.
  add('tiered-set', s.ours.tiered, 'CacheService, default config + Redis (bus)', (f, key) => set(f, s.ours.tiered, key));
  return cases;
}

function bento(s: Systems, p: Payload): Case[] {
  const stores = {
    memory: s.bento.use('memory'),
    tiered: s.bento.use('tiered'),
    redis: s.bento.use('redis'),
  };
  const cases: Case[] = [];
  const add = (
    row: RowId,
    setup: string,
    build: (f: Fixture, key: string) => Partial<Case> & Pick<Case, 'op' | 'prepare'>,
  ) => {
    const f = new Fixture(p);
    cases.push(caseOf('bentocache', row, setup, p, f, build(f, `${row}:${p.label}`)));
  };
  const hit = (f: Fixture, store: keyof typeof stores, row: RowId, key: string) => {
    const op = () => stores[store].getOrSet({ key, factory: f.loader, ttl: HOUR_MS });
    return { op, prepare: hitPrepare(f, 'bentocache', row, op) };
  };
  const memorySetup = 'memoryDriver({ serialize: false })';
  add('l1-hit', memorySetup, (f, key) => ({
    ...hit(f, 'memory', 'l1-hit', key),
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('tiered-hit', `${memorySetup} + redisDriver + redisBusDriver`, (f, key) => ({
    ...hit(f, 'tiered', 'tiered-hit', key),
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('tiered-get', `${memorySetup} + redisDriver + redisBusDriver`, (f, key) => ({
    op: () => stores.tiered.get({ key }),
    prepare: async () => {
      await stores.tiered.getOrSet({ key, factory: f.loader, ttl: HOUR_MS });
      f.check('bentocache', 'tiered-get', await stores.tiered.get({ key }));
    },
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('l2-hit', 'redisDriver only', (f, key) => hit(f, 'redis', 'l2-hit', key));
  add('l2-miss', 'redisDriver only', (f, key) => {
    const fresh = () => `${key}:${f.seq}`;
    const op = () => stores.redis.getOrSet({ key: fresh(), factory: f.loader, ttl: WRITE_TTL_MS });
    return {
      op,
      next: () => f.fresh(),
      expect: { loads: 'every-op', redis: 'per-op' },
      prepare: writePrepare(f, 'bentocache', 'l2-miss', op, () => stores.redis.get({ key: fresh() })),
    };
  });
  add('l2-set', 'redisDriver only', (f, key) => {
    const op = () => stores.redis.set({ key, value: f.value, ttl: WRITE_TTL_MS });
    return {
      op,
      next: () => f.fresh(),
      prepare: writePrepare(f, 'bentocache', 'l2-set', op, () => stores.redis.get({ key })),
    };
  });
  add('tiered-set', `${memorySetup} + redisDriver + redisBusDriver`, (f, key) => {
    const op = () => stores.tiered.set({ key, value: f.value, ttl: WRITE_TTL_MS });
    return {
      op,
      next: () => f.fresh(),
      prepare: writePrepare(f, 'bentocache', 'tiered-set', op, () => stores.tiered.get({ key })),
    };
  });
  return cases;
}

function cacheManager(s: Systems, p: Payload): Case[] {
  const cases: Case[] = [];
  const add = (
    row: RowId,
    setup: string,
    build: (f: Fixture, key: string) => Partial<Case> & Pick<Case, 'op' | 'prepare'>,
  ) => {
    const f = new Fixture(p);
    cases.push(caseOf('cache-manager', row, setup, p, f, build(f, `${row}:${p.label}`)));
  };
  const hit = (f: Fixture, cache: keyof Systems['cm'], row: RowId, key: string) => {
    const op = () => s.cm[cache].wrap(key, f.loader, HOUR_MS);
    return { op, prepare: hitPrepare(f, 'cache-manager', row, op) };
  };
  const memorySetup = 'Keyv in-memory (no serialization)';
  add('l1-hit', memorySetup, (f, key) => ({
    ...hit(f, 'memory', 'l1-hit', key),
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('tiered-hit', `[${memorySetup}, @keyv/redis] (no bus)`, (f, key) => ({
    ...hit(f, 'tiered', 'tiered-hit', key),
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('tiered-get', `[${memorySetup}, @keyv/redis] (no bus)`, (f, key) => ({
    op: () => s.cm.tiered.get(key),
    prepare: async () => {
      await s.cm.tiered.wrap(key, f.loader, HOUR_MS);
      f.check('cache-manager', 'tiered-get', await s.cm.tiered.get(key));
    },
    batch: HIT_BATCH,
    expect: { loads: 'none', redis: 'none' },
  }));
  add('l2-hit', '@keyv/redis only', (f, key) => hit(f, 'redis', 'l2-hit', key));
  add('l2-miss', '@keyv/redis only', (f, key) => {
    const fresh = () => `${key}:${f.seq}`;
    const op = () => s.cm.redis.wrap(fresh(), f.loader, WRITE_TTL_MS);
    return {
      op,
      next: () => f.fresh(),
      expect: { loads: 'every-op', redis: 'per-op' },
      prepare: writePrepare(f, 'cache-manager', 'l2-miss', op, () => s.cm.redis.get(fresh())),
    };
  });
  add('l2-set', '@keyv/redis only', (f, key) => {
    const op = () => s.cm.redis.set(key, f.value, WRITE_TTL_MS);
    return {
      op,
      next: () => f.fresh(),
      prepare: writePrepare(f, 'cache-manager', 'l2-set', op, () => s.cm.redis.get(key)),
    };
  });
  add('tiered-set', `[${memorySetup}, @keyv/redis] (no bus)`, (f, key) => {
    const op = () => s.cm.tiered.set(key, f.value, WRITE_TTL_MS);
    return {
      op,
      next: () => f.fresh(),
      prepare: writePrepare(f, 'cache-manager', 'tiered-set', op, () => s.cm.tiered.get(key)),
    };
  });
  return cases;
}

/** The floors: what Redis and JSON cost with no cache library at all. */
function raw(s: Systems, p: Payload): Case[] {
  const base = {
    system: 'ioredis' as const,
    payload: p,
    batch: 1,
    expect: { loads: 'none' as const, redis: 'per-op' as const },
  };
  const ourKey = cacheKey('raw-get', p.label);
  const ourFullKey = s.ours.l2Only.keyOf(ourKey);
  const jsonKey = `raw:json:${p.label}`;
  const setKey = `raw:l2-set:${p.label}`;
  const readJson = async (key: string) =>
    JSON.parse((await s.raw.getBuffer(key))!.toString('utf8')) as unknown;

  const get = new Fixture(p);
  const miss = new Fixture(p);
  const missKey = () => `raw:l2-miss:${p.label}:${miss.seq}`;
  const missOp = async () => {
    const cached = await s.raw.getBuffer(missKey());
    if (cached !== null) {
      return JSON.parse(cached.toString('utf8')) as unknown;
    }
    const value = await miss.loader();
    await s.raw.set(missKey(), JSON.stringify(value), 'PX', WRITE_TTL_MS);
    return value;
  };
  const set = new Fixture(p);
  const setOp = () => s.raw.set(setKey, JSON.stringify(set.value), 'PX', WRITE_TTL_MS);

  return [
    {
      ...base,
      row: 'raw-get',
      setup: 'getBuffer of the envelope bytes our L2 stores',
      loads: () => get.loads,
      op: () => s.raw.getBuffer(ourFullKey),
      prepare: async () => {
        await s.ours.l2Only.set(ourKey, get.value, { ttl: HOUR_MS });
        const bytes = await s.raw.getBuffer(ourFullKey);
        get.check('ioredis', 'raw-get', bytes && Envelope.decode(ourFullKey, bytes)?.value);
      },
    },
    {
      ...base,
      row: 'raw-get-parse',
      setup: 'getBuffer + JSON.parse of the payload JSON',
      loads: () => get.loads,
      op: () => readJson(jsonKey),
      prepare: async () => {
        await s.raw.set(jsonKey, JSON.stringify(p.value), 'PX', HOUR_MS);
        get.check('ioredis', 'raw-get-parse', await readJson(jsonKey));
      },
    },
    {
      ...base,
      row: 'l2-miss',
      setup: 'floor: GET (nil), JSON.stringify, SET PX',
      loads: () => miss.loads,
      next: () => miss.fresh(),
      expect: { loads: 'every-op', redis: 'per-op' },
      op: missOp,
      prepare: writePrepare(miss, 'ioredis', 'l2-miss', missOp, () => readJson(missKey())),
    },
    {
      ...base,
      row: 'l2-set',
      setup: 'floor: JSON.stringify, SET PX',
      loads: () => set.loads,
      next: () => set.fresh(),
      op: setOp,
      prepare: writePrepare(set, 'ioredis', 'l2-set', setOp, () => readJson(setKey)),
    },
  ];
}

/** All cases of one payload, grouped by row so the systems of a row run back to back. */
export function buildCases(s: Systems, p: Payload): Case[] {
  const all = [...ours(s, p), ...bento(s, p), ...cacheManager(s, p), ...raw(s, p)];
  return ROWS.flatMap((row) => all.filter((c) => c.row === row.id));
}
