import { ROWS, RowId, SystemId } from './cases';
import type { Measured } from './measure';
import type { Pinning } from './pinning';

export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  memoryGb: number;
  redis: string;
}

export interface CodeState {
  commit: string;
  /** Git tree of src/cache at that commit: equal values measured the same committed engine. */
  srcCacheTree: string;
  /** Fingerprint of uncommitted changes under src/cache (null when clean): runs with different values measured different code. */
  srcCacheDiffSha1: string | null;
  srcCacheDirtyFiles: string[];
  /**
   * How the engine ran: `tsc` output (as the service ships; `npm run bench:micro`), or through tsx's on-the-fly
   * transform, which adds a `__name()` call per function our code creates. Runs before this field were all tsx.
   */
  runner?: 'tsc' | 'tsx';
}

export interface Run {
  startedAt: string;
  /** The Node.js it ran on, and why that one (test/support/shipped-node.ts). Runs before these fields: the file's `machine.node`. */
  node?: string;
  runtime?: string;
  code: CodeState;
  durationS: number;
  /** 1-minute load average before and after: the machine is shared, this says how busy it was. */
  loadAverage: { before: number; after: number };
  options: { timeMs: number; warmupMs: number; rounds: number };
  /** Which CPUs the benchmark and its redis-server were pinned to. Runs before this field were not pinned. */
  pinning?: Pinning;
  results: Measured[];
}

export interface ResultsFile {
  date: string;
  command: string;
  machine: Machine;
  runs: Run[];
}

const PEERS: SystemId[] = ['bentocache', 'cache-manager'];
const SYSTEM_ORDER: SystemId[] = ['ours', 'bentocache', 'cache-manager', 'ioredis'];

/** Which raw-ioredis result an L2 row is compared with. */
const FLOOR: Partial<Record<RowId, { row: RowId; label: string }>> = {
  'l2-hit': { row: 'raw-get', label: 'GET' },
  'raw-get-parse': { row: 'raw-get', label: 'GET' },
  'l2-miss': { row: 'l2-miss', label: 'GET+SET' },
  'l2-set': { row: 'l2-set', label: 'SET' },
};

const find = (results: Measured[], row: RowId, system: SystemId, payload: string) =>
  results.find((r) => r.row === row && r.system === system && r.payload === payload);

function num(value: number): string {
  if (value >= 100) {
    return value.toFixed(0);
  }
  return value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function ops(value: number): string {
  return value >= 1_000_000
    ? `${(value / 1_000_000).toFixed(2)} M`
    : value >= 1_000
      ? `${(value / 1_000).toFixed(1)} k`
      : value.toFixed(0);
}

function floorOf(results: Measured[], r: Measured): Measured | undefined {
  const floor = FLOOR[r.row];
  if (!floor || (r.system === 'ioredis' && r.row === floor.row)) {
    return undefined;
  }
  return find(results, floor.row, 'ioredis', r.payload);
}

/** Rows × systems for one payload: median and p99 per op, ops/s, ratio to the raw floor, ours ÷ peer. */
export function table(results: Measured[], payload: string): string {
  const lines = [
    '| Row | System | median µs | p99 µs | ops/s | × raw ioredis | ours ÷ this | Redis cmds/op | Check |',
    '|---|---|--:|--:|--:|--:|--:|--:|---|',
  ];
  for (const row of ROWS) {
    const inRow = SYSTEM_ORDER.map((s) => find(results, row.id, s, payload)).filter(
      (r): r is Measured => !!r,
    );
    const ours = find(results, row.id, 'ours', payload);
    for (const r of inRow) {
      const floor = floorOf(results, r);
      const ratio = floor ? `${(r.medianUs / floor.medianUs).toFixed(2)}× ${FLOOR[r.row]!.label}` : '';
      const versus = ours && PEERS.includes(r.system) ? (ours.medianUs / r.medianUs).toFixed(2) : '';
      const system =
        r.system === 'ioredis' && row.id !== 'raw-get' && row.id !== 'raw-get-parse'
          ? 'ioredis (floor)'
          : r.system;
      const p99 = r.batch > 1 ? `${num(r.p99Us)}†` : num(r.p99Us);
      const check = r.problems.length === 0 ? 'ok' : `**INVALID**: ${r.problems.join('; ')}`;
      lines.push(
        `| ${row.title} | ${system} | ${num(r.medianUs)} | ${p99} | ${ops(r.opsPerSec)} | ${ratio} | ${versus} | ${r.redisCommandsPerOp.toFixed(2)} | ${check} |`,
      );
    }
  }
  return lines.join('\n');
}

export interface Verdict {
  target: string;
  met: boolean;
  detail: string;
}

export function verdicts(results: Measured[], payloads: string[]): Verdict[] {
  const out: Verdict[] = [];
  for (const p of payloads) {
    const l1 = find(results, 'l1-hit', 'ours', p);
    if (l1) {
      out.push({
        target: `L1 hit median ≤ 1 µs (${p})`,
        met: l1.medianUs <= 1,
        detail: `${num(l1.medianUs)} µs`,
      });
    }
    const l2 = find(results, 'l2-hit', 'ours', p);
    const get = find(results, 'raw-get', 'ioredis', p);
    if (l2 && get) {
      const ratio = l2.medianUs / get.medianUs;
      out.push({
        target: `our L2 hit ≤ 1.3 × raw GET (${p})`,
        met: ratio <= 1.3,
        detail: `${num(l2.medianUs)} µs vs ${num(get.medianUs)} µs = ${ratio.toFixed(2)}×`,
      });
    }
    const behind: string[] = [];
    let compared = 0;
    for (const row of ROWS) {
      const ours = find(results, row.id, 'ours', p);
      for (const peer of PEERS) {
        const other = find(results, row.id, peer, p);
        if (ours && other) {
          compared++;
          if (ours.medianUs >= other.medianUs) {
            behind.push(`${row.id} vs ${peer}: ${num(ours.medianUs)} vs ${num(other.medianUs)} µs`);
          }
        }
      }
    }
    out.push({
      target: `ours ahead of both peers on every row (${p})`,
      met: behind.length === 0,
      detail:
        behind.length === 0
          ? `ahead in all ${compared} comparisons`
          : `behind in ${behind.length}/${compared}: ${behind.join('; ')}`,
    });
  }
  const invalid = results.filter((r) => r.problems.length > 0);
  out.push({
    target: 'every system measured what it claims (hits hit, misses load, L1 rows never reach Redis)',
    met: invalid.length === 0,
    detail:
      invalid.length === 0
        ? 'all checks passed'
        : invalid.map((r) => `${r.row}/${r.system}/${r.payload}`).join(', '),
  });
  return out;
}

/** Median µs of every case across the runs of the day: min–max, to show how noisy the machine was. */
export function spread(runs: Run[]): string {
  if (runs.length < 2) {
    return '';
  }
  const first = runs[0].results;
  const lines = [
    `Median µs, min–max over the ${runs.length} runs of the day (same machine, same command):`,
    '',
    '| Payload | Row | System | min | max | max ÷ min |',
    '|---|---|---|--:|--:|--:|',
  ];
  for (const r of first) {
    const medians = runs
      .map((run) => find(run.results, r.row, r.system, r.payload)?.medianUs)
      .filter((m): m is number => m !== undefined);
    const lo = Math.min(...medians);
    const hi = Math.max(...medians);
    lines.push(
      `| ${r.payload} | ${r.row} | ${r.system} | ${num(lo)} | ${num(hi)} | ${(hi / lo).toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

export function setups(results: Measured[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const r of results) {
    const line = `- ${r.row} / ${r.system}: ${r.setup}`;
    if (!seen.has(line)) {
      seen.add(line);
      lines.push(line);
    }
  }
  return lines.join('\n');
}

/** Geometric mean of every median of a run: the lower, the calmer the machine was for everyone. */
function level(run: Run): number {
  return Math.exp(run.results.reduce((a, r) => a + Math.log(r.medianUs), 0) / run.results.length);
}

/** The run of the day with every check passed and the lowest overall level (the least disturbed). */
export function bestRun(runs: Run[]): Run {
  const valid = runs.filter((r) => r.results.every((x) => x.problems.length === 0));
  return (valid.length ? valid : runs).reduce((a, b) => (level(b) < level(a) ? b : a));
}

const runner = (run: Run) => run.code.runner ?? 'tsx';

const pinMode = (run: Run) => run.pinning?.mode ?? 'none';

const nodeOf = (run: Run, file: ResultsFile) => run.node ?? file.machine.node;

/** Same engine, run the same way: a raw GET takes ~100 µs pinned split, ~25 µs on one CPU, either unpinned (pinning.ts). */
const sameCode = (file: ResultsFile, a: Run, b: Run) =>
  nodeOf(a, file) === nodeOf(b, file) &&
  a.code.srcCacheTree === b.code.srcCacheTree &&
  a.code.srcCacheDiffSha1 === b.code.srcCacheDiffSha1 &&
  runner(a) === runner(b) &&
  pinMode(a) === pinMode(b);

/** Written after each run: the day's runs of the engine just measured (other versions of it are left out). */
export function markdown(file: ResultsFile, payloadBytes: Record<string, number>): string {
  const m = file.machine;
  const latest = file.runs[file.runs.length - 1];
  const runs = file.runs.filter((r) => sameCode(file, r, latest));
  const run = bestRun(runs);
  const payloads = Object.keys(payloadBytes);
  const parts = [
    `# Cache micro-benchmark, ${file.date}`,
    '',
    `Best of ${runs.length} run(s) today of this version of src/cache, on the same Node, pinned the same way (every check passed, lowest geometric mean ` +
      `of all medians); the raw numbers of every run are in ${file.date}-micro.json.`,
    '',
    `Command: \`${file.command}\`. Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, ${m.platform}, ${run.runtime ?? `Node ${nodeOf(run, file)}`}, ` +
      `redis-server ${m.redis} (own instance on 127.0.0.1, same machine). Run started ${run.startedAt}, took ${run.durationS} s; ` +
      `1-min load average ${run.loadAverage.before.toFixed(2)} before, ${run.loadAverage.after.toFixed(2)} after ` +
      '(2 vCPUs shared with other work: see the spread between runs at the end). ' +
      `Pinning: ${run.pinning?.note ?? 'not pinned (run before pinning was recorded)'}.`,
    '',
    `Each case: ${run.options.warmupMs} ms warm-up, then ≥ ${run.options.timeMs} ms of samples taken in ${run.options.rounds} ` +
      'slices; the systems of a row take turns slice by slice (first mover rotating) so noise hits all of them. One ' +
      'operation at a time (sequential latency, no concurrency). † in-process rows are timed in batches of 100 ' +
      'operations: their p99 is the p99 of batch means, not of single calls. "Redis cmds/op" comes from INFO ' +
      'commandstats, where commands run inside a Lua script count too.',
    '',
    `Code measured: commit ${run.code.commit}, src/cache tree ${run.code.srcCacheTree}` +
      (run.code.srcCacheDiffSha1
        ? ` plus uncommitted changes in src/cache (diff sha1 ${run.code.srcCacheDiffSha1}: ${run.code.srcCacheDirtyFiles.join(', ')}).`
        : ', src/cache clean.') +
      (runner(run) === 'tsc' ? ' Run as compiled by tsc (as the service ships).' : ' Run through tsx (its transform, not tsc output).'),
    '',
  ];
  for (const p of payloads) {
    parts.push(`## ${p} payload (${payloadBytes[p]} bytes of JSON)`, '', table(run.results, p), '');
  }
  parts.push('## Targets', '', '| Target | Met | Measured |', '|---|---|---|');
  for (const v of verdicts(run.results, payloads)) {
    parts.push(`| ${v.target} | ${v.met ? 'yes' : '**no**'} | ${v.detail} |`);
  }
  parts.push('', '## How each system is set up', '', setups(run.results), '');
  const s = spread(runs);
  if (s) {
    parts.push('## Spread between runs', '', s, '');
  }
  return parts.join('\n');
}
