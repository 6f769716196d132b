import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type Redis from 'ioredis';
import type { Case, RowId, SystemId } from './cases';

export interface Measured {
  row: RowId;
  system: SystemId;
  setup: string;
  payload: string;
  payloadBytes: number;
  /** Operations per timed sample (medians and p99 are of per-sample means when above 1). */
  batch: number;
  samples: number;
  ops: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  minUs: number;
  maxUs: number;
  /** Relative margin of error of the mean (95 %), in percent. */
  rme: number;
  opsPerSec: number;
  loaderCalls: number;
  /** From Redis' INFO commandstats: commands a script runs count too (our EVAL = 1 + its HMGET, PTTL, …). */
  redisCommandsPerOp: number;
  engineHits: number | null;
  /** Empty when the run measured what it claims to; otherwise why its numbers must not be used. */
  problems: string[];
}

export interface MeasureOptions {
  /** Sampling time per case, split over the rounds. */
  timeMs: number;
  /** Warm-up before the first round (later rounds re-warm for a tenth of it). */
  warmupMs: number;
  rounds: number;
}

// A full collection between slices so one case's garbage (14 KB values by the thousand) is not billed to the next.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/**
 * Every command Redis has run so far, except our own INFO probes and PINGs: connection checks that run on a
 * timer (our bus heartbeat), not for any operation, and land in whichever system's slice is running.
 */
export async function redisCommands(probe: Redis): Promise<number> {
  const info = await probe.info('commandstats');
  let total = 0;
  for (const [, name, calls] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (name !== 'info' && name !== 'ping') {
      total += Number(calls);
    }
  }
  return total;
}

interface Tally {
  samples: number[];
  ops: number;
  loads: number;
  hits: number | null;
  redis: number;
}

/** One slice of one case with tinybench: returns its per-op samples (ms) and what the counters saw meanwhile. */
async function slice(c: Case, probe: Redis, timeMs: number, warmupMs: number): Promise<Tally> {
  // tinybench ships as ESM only; this project compiles to CommonJS.
  const { Bench } = await import('tinybench');
  let ops = 0;
  let before: { loads: number; hits: number | null; redis: number } | undefined;
  let tally: Tally | undefined;
  const snapshot = async () => ({
    loads: c.loads(),
    hits: c.hits?.() ?? null,
    redis: await redisCommands(probe),
  });

  const bench = new Bench({
    time: timeMs,
    warmupTime: warmupMs,
    warmup: warmupMs > 0,
    iterations: 32,
    warmupIterations: 8,
    throws: true,
    retainSamples: true,
  });
  bench.add(
    `${c.row} ${c.system} ${c.payload.label}`,
    async () => {
      c.next?.();
      const started = performance.now();
      for (let i = 0; i < c.batch; i++) {
        await c.op();
      }
      const took = performance.now() - started;
      ops += c.batch;
      return { overriddenDuration: took / c.batch, overriddenIterationCost: took };
    },
    {
      beforeAll: async (mode) => {
        if (mode === 'run') {
          ops = 0;
          before = await snapshot();
        }
      },
      afterAll: async (mode) => {
        if (mode === 'run' && before) {
          const after = await snapshot();
          tally = {
            samples: [],
            ops,
            loads: after.loads - before.loads,
            hits: after.hits === null || before.hits === null ? null : after.hits - before.hits,
            redis: after.redis - before.redis,
          };
        }
      },
    },
  );
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== 'completed' || !tally || !result.latency.samples) {
    throw new Error(
      `${c.row} ${c.system} ${c.payload.label}: the benchmark did not complete (${result.state})`,
    );
  }
  tally.samples = [...result.latency.samples];
  return tally;
}

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/**
 * Measures the cases of one row group (one payload) together: each case is prepared (warmed, its value checked),
 * then the cases take turns in `rounds` short slices, the first mover rotating each round, so a burst of noise on
 * this shared machine lands on every system of the row rather than on one.
 */
export async function measureRow(cases: Case[], probe: Redis, options: MeasureOptions): Promise<Measured[]> {
  for (const c of cases) {
    await c.prepare();
  }
  const tallies: Tally[] = cases.map(() => ({ samples: [], ops: 0, loads: 0, hits: 0, redis: 0 }));
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + round) % cases.length;
      collect();
      const warmupMs = round === 0 ? options.warmupMs : Math.ceil(options.warmupMs / 10);
      const t = await slice(cases[i], probe, options.timeMs / options.rounds, warmupMs);
      const into = tallies[i];
      into.samples.push(...t.samples);
      into.ops += t.ops;
      into.loads += t.loads;
      into.redis += t.redis;
      into.hits = into.hits === null || t.hits === null ? null : into.hits + t.hits;
    }
  }
  return cases.map((c, i) => summarize(c, tallies[i]));
}

function summarize(c: Case, t: Tally): Measured {
  const problems: string[] = [];
  if (c.expect.loads === 'none' && t.loads !== 0) {
    problems.push(`the loader ran ${t.loads} times in ${t.ops} ops: misses were measured`);
  }
  if (c.expect.loads === 'every-op' && t.loads !== t.ops) {
    problems.push(`the loader ran ${t.loads} times in ${t.ops} ops: expected one load per op`);
  }
  if (c.expect.redis === 'none' && t.redis !== 0) {
    problems.push(`${t.redis} Redis commands in ${t.ops} ops: an L1 hit must not reach Redis`);
  }
  if (c.expect.redis === 'per-op' && t.redis < t.ops) {
    problems.push(`${t.redis} Redis commands in ${t.ops} ops: this row must reach Redis every time`);
  }
  if (c.hits && t.hits !== t.ops) {
    problems.push(`the engine counted ${t.hits} hits in ${t.ops} ops`);
  }
  const sorted = [...t.samples].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
  const us = (ms: number) => ms * 1_000;
  return {
    row: c.row,
    system: c.system,
    setup: c.setup,
    payload: c.payload.label,
    payloadBytes: c.payload.bytes,
    batch: c.batch,
    samples: n,
    ops: t.ops,
    medianUs: us(quantile(sorted, 0.5)),
    p99Us: us(quantile(sorted, 0.99)),
    meanUs: us(mean),
    minUs: us(sorted[0]),
    maxUs: us(sorted[n - 1]),
    rme: mean > 0 ? ((1.96 * sd) / Math.sqrt(n) / mean) * 100 : 0,
    opsPerSec: mean > 0 ? 1_000 / mean : 0,
    loaderCalls: t.loads,
    redisCommandsPerOp: t.ops > 0 ? t.redis / t.ops : 0,
    engineHits: t.hits,
    problems,
  };
}
