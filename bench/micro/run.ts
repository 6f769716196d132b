import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { OwnRedis } from '../../test/support/redis-server';
import { benchNode, nodeChoice, onBenchNode } from '../../test/support/shipped-node';
import { buildCases, ROWS } from './cases';
import { measureRow, Measured, redisCommands } from './measure';
import { payloads } from './payloads';
import { PIN_MODES, pinBenchmark, PinMode } from './pinning';
import { CodeState, Machine, markdown, ResultsFile, Run, table, verdicts } from './report';
import { createSystems, Systems } from './systems';

/**
 * `npm run bench:micro [-- --time 1000 --warmup 250 --rounds 5 --only l2-hit --pin split]`: our cache engine against
 * BentoCache and cache-manager on the same payloads, rows and Redis. Writes bench/results/<date>-micro.{json,md}
 * (a day's runs accumulate in the JSON) and prints the tables. `--only <row>` runs that row (and the rows measured
 * alongside it) and saves nothing. `--pin split` (default): this process on one CPU, its redis-server on another;
 * `same`: both on one CPU; `none`: let the scheduler move them (see pinning.ts for why it matters).
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      time: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '250' },
      rounds: { type: 'string', default: '5' },
      only: { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      pin: { type: 'string', default: 'split' },
      node: { type: 'string', default: 'shipped' },
    },
  });
  const runtime = benchNode(nodeChoice(values.node), repoRoot(__dirname), (line) => process.stderr.write(`${line}\n`));
  const again = onBenchNode(runtime);
  if (again) {
    return again;
  }
  process.stdout.write(`Runtime: ${runtime.note}\n`);
  if (!PIN_MODES.includes(values.pin as PinMode)) {
    throw new Error(`--pin must be one of ${PIN_MODES.join(', ')}, not ${values.pin}`);
  }
  const options = {
    timeMs: Number(values.time),
    warmupMs: Number(values.warmup),
    rounds: Number(values.rounds),
  };
  const started = Date.now();
  const loadBefore = loadavg()[0];
  const redis = await OwnRedis.start();
  const pinning = pinBenchmark(redis.pid, values.pin as PinMode);
  process.stdout.write(`Pinning: ${pinning.note}\n`);
  // Interrupted: still stop our redis-server (by its PID) before leaving. Not `once`: a Ctrl-C can arrive twice
  // (from the terminal, and relayed by tsx and by the Node re-exec), and the second must not cut the first short.
  let interrupted = false;
  const interrupt = () => {
    if (!interrupted) {
      interrupted = true;
      void redis.stop().finally(() => process.exit(130));
    }
  };
  process.on('SIGINT', interrupt).on('SIGTERM', interrupt);
  let systems: Systems | undefined;
  const results: Measured[] = [];
  const sizes = payloads();
  try {
    systems = await createSystems(redis.url, redis.port);
    for (const payload of sizes) {
      const cases = buildCases(systems, payload);
      const groups = [
        ...new Set(ROWS.filter((r) => !values.only || r.id === values.only).map((r) => r.group)),
      ];
      for (const group of groups) {
        await quiet(systems.probe);
        const rows = new Set<string>(ROWS.filter((r) => r.group === group).map((r) => r.id));
        for (const r of await measureRow(
          cases.filter((c) => rows.has(c.row)),
          systems.probe,
          options,
        )) {
          results.push(r);
          process.stderr.write(
            `${r.payload.padEnd(5)} ${r.row.padEnd(14)} ${r.system.padEnd(14)} median ${r.medianUs.toFixed(2).padStart(8)} µs  ` +
              `p99 ${r.p99Us.toFixed(2).padStart(8)} µs  ${r.problems.length ? `INVALID: ${r.problems.join('; ')}` : 'ok'}\n`,
          );
        }
      }
    }
    const redisVersion = /redis_version:(\S+)/.exec(await systems.probe.info('server'))?.[1] ?? 'unknown';

    const machine: Machine = {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      redis: redisVersion,
    };
    const run: Run = {
      startedAt: new Date(started).toISOString(),
      node: process.version,
      runtime: runtime.note,
      code: codeState(),
      durationS: Math.round((Date.now() - started) / 1_000),
      loadAverage: { before: loadBefore, after: loadavg()[0] },
      options,
      pinning,
      results,
    };
    const bytes = Object.fromEntries(sizes.map((p) => [p.label, p.bytes]));
    for (const p of sizes) {
      process.stdout.write(`\n### ${p.label} payload (${p.bytes} bytes)\n\n${table(results, p.label)}\n`);
    }
    const targets = verdicts(
      results,
      sizes.map((p) => p.label),
    );
    process.stdout.write(
      `\n### Targets\n\n${targets.map((v) => `- [${v.met ? 'x' : ' '}] ${v.target}: ${v.detail}`).join('\n')}\n`,
    );

    if (!values['no-save'] && !values.only) {
      save(machine, run, bytes);
    }
    return results.some((r) => r.problems.length > 0) ? 1 : 0;
  } finally {
    await systems?.close();
    await redis.stop();
  }
}

/** Until the clients' connection chatter (HELLO, SUBSCRIBE, CLIENT SETINFO…) is over: 200 ms without a command. */
async function quiet(probe: Parameters<typeof redisCommands>[0]): Promise<void> {
  let last = await redisCommands(probe);
  for (let calm = 0; calm < 4;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = await redisCommands(probe);
    calm = now === last ? calm + 1 : 0;
    last = now;
  }
}

/** `npm run bench:micro` runs tsc's output (this file as .js); `tsx bench/micro/run.ts` still works, and says so. */
const RUNNER = __filename.endsWith('.js') ? 'tsc' : 'tsx';

/** Which code was measured: src/cache may hold uncommitted work, so its diff is fingerprinted too. */
function codeState(): CodeState {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  try {
    const diff = git('diff', 'HEAD', '--', 'src/cache');
    const dirty = git('status', '--porcelain', '--', 'src/cache');
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      srcCacheTree: git('rev-parse', '--short', 'HEAD:src/cache'),
      srcCacheDiffSha1: diff ? createHash('sha1').update(diff).digest('hex').slice(0, 12) : null,
      srcCacheDirtyFiles: dirty ? dirty.split('\n').map((l) => l.slice(3)) : [],
      runner: RUNNER,
    };
  } catch {
    return { commit: 'unknown', srcCacheTree: 'unknown', srcCacheDiffSha1: null, srcCacheDirtyFiles: [], runner: RUNNER };
  }
}

/** The checkout this file is in: run from `dist-bench/bench/micro` (as `npm run bench:micro` does) or from source. */
function repoRoot(from: string): string {
  return existsSync(join(from, 'package.json')) ? from : repoRoot(dirname(from));
}

function save(machine: Machine, run: Run, bytes: Record<string, number>): void {
  const date = run.startedAt.slice(0, 10);
  const dir = join(repoRoot(__dirname), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, `${date}-micro.json`);
  const previous = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as ResultsFile) : null;
  const file: ResultsFile = {
    date,
    command: 'npm run bench:micro',
    machine,
    // Runs saved before runs named their Node ran on the file's one: say so, before `machine` becomes this run's.
    runs: [...(previous?.runs ?? []).map((r) => ({ ...r, node: r.node ?? previous!.machine.node })), run],
  };
  writeFileSync(jsonPath, `${JSON.stringify(file, null, 2)}\n`);
  writeFileSync(join(dir, `${date}-micro.md`), markdown(file, bytes));
  process.stderr.write(`\nwrote ${jsonPath} (${file.runs.length} run(s) today) and ${date}-micro.md\n`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
