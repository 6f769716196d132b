import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeServed, parseExposition, Scrape, servedBetween } from './served';
import jwt from 'jsonwebtoken';
import { characterVersions, descriptions, ensureDataSet, restoreDescriptions, FULL_DATA, hasTaskset, mixFixtures, MixFixtures } from './database';
import { Planned, runLoad, Workload } from './load';
import { benchNode, BenchNode, nodeChoice, onBenchNode } from '../../test/support/shipped-node';
import { markdown, median, ratioChart, Sample, ScenarioReport, summarize, Target } from './report';
import { metricsToken, RunSecrets, Server, SYSTEMS, SystemId } from './servers';
import { detailPath, galleryPath, LIST_LIMIT, listPath, prng, WriteLedger, zipf, zipfPaths } from './workload';

const SCENARIOS = ['hot', 'zipf', 'mix', 'stampede', 'kill'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenario: { type: 'string', multiple: true },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string', default: '50' },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'string', multiple: true },
    node: { type: 'string', default: 'shipped' },
  },
});

const QUICK = args.quick;
const ROUNDS = Number(args.rounds ?? 3);
const DURATION_S = Number(args.duration ?? (QUICK ? 2 : 10));
const WARM_S = QUICK ? 0.5 : 1;
const MIX_PAGES = 50;
/** The kill run needs whole seconds on both sides of the kill, even in a quick run. */
const KILL_S = Math.max(DURATION_S, 6);
const CONNECTIONS = Number(args.connections);
const STAMPEDE = 500;
const MAX_PAGES = 500;
const ZIPF_SEED = 20261124;
const chosen: Scenario[] = args.scenario?.length
  ? args.scenario.flatMap((s) => s.split(',')).map((s) => {
      if (!(SCENARIOS as readonly string[]).includes(s)) {
        throw new Error(`unknown scenario "${s}"; one of ${SCENARIOS.join(', ')}`);
      }
      return s as Scenario;
    })
  : [...SCENARIOS];

/** For each of ours, how it served its median round (by req/s), from its own /metrics (see Served). */
function servedNotes(samples: Sample[]): string[] {
  return (['ours-redis', 'ours-l1'] as const).flatMap((id) => {
    const mine = samples.filter((s) => s.system === id && s.served).sort((a, b) => a.rps - b.rps);
    const median = mine[Math.floor(mine.length / 2)];
    return median ? [`How ${id} served its median round (its own /metrics): ${describeServed(median.served!)}.`] : [];
  });
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LABELS = Object.fromEntries(SYSTEMS.map((s) => [s.id, s.label]));

/** Failed validity checks (not missed targets): the run exits 1 when there is any. */
const invalid: string[] = [];

function getText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // Everything here is on 127.0.0.1: a server silent this long has hung, and the run must not hang with it.
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.end();
  });
}

/** Ours' /metrics, parsed (see served.ts). */
async function scrape(baseUrl: string, token: string): Promise<Scrape> {
  const res = await getText(`${baseUrl}/metrics`, { authorization: `Bearer ${token}` });
  if (res.status !== 200) {
    throw new Error(`GET /metrics answered ${res.status}`);
  }
  return parseExposition(res.body);
}

async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      await work(items[next++]);
    }
  }));
}

/** The harness on CPU 1, the servers on CPU 0 (when the machine has two and taskset exists). */
function pinning(): { servers: string | null } {
  if (cpus().length < 2 || !hasTaskset()) {
    log('not pinning: needs 2 CPUs and taskset');
    return { servers: null };
  }
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  return { servers: '0' };
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    // Code only: the results this run writes and the prose beside them do not change what was measured.
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench', ':!bench/results', ':!*.md'], { encoding: 'utf8' }).trim() ? '+dirty' : '';
    return sha + dirty;
  } catch {
    return 'unknown';
  }
}

class Bench {
  readonly servers = new Map<SystemId, Server>();
  readonly reports: ScenarioReport[] = [];
  pages = 0;
  ids: string[] = [];
  universe: string[] = [];
  fixtures!: MixFixtures;
  /** The characters the cards grid shows (list pages 1–50 of every mode, anonymous): what the mix opens. */
  mixIds: string[] = [];
  /** Per path, what identifies its answer (the ids it lists, or its id): wrong answers are caught, not timed. */
  private readonly signatures = new Map<string, string>();
  private wrongAnswers = 0;
  private checked = 0;

  constructor(
    private readonly secrets: RunSecrets,
    private readonly cpusForServers: string | null,
    private readonly pagesFile: string,
    /** The Node.js this run (harness and servers) is on: see test/support/shipped-node.ts. */
    private readonly runtime: BenchNode,
  ) {}

  server(id: SystemId): Server {
    return this.servers.get(id)!;
  }

  /** Stops a system and starts it again on a new, empty redis-server (what it holds is then this scenario's). */
  async fresh(id: SystemId): Promise<void> {
    await this.server(id).stop();
    this.servers.delete(id);
    await this.start(id);
  }

  async start(id: SystemId): Promise<Server> {
    const spec = SYSTEMS.find((s) => s.id === id)!;
    const profileDir = args.profile?.includes(id) ? join('.scratch', 'profiles') : undefined;
    const server = await Server.start(spec, { cpus: this.cpusForServers, secrets: this.secrets, ceilingPages: this.pagesFile, profileDir }, this.servers.get(id)?.redis ?? null);
    this.servers.set(id, server);
    return server;
  }

  /** A bench run's token for a seeded user (the service verifies it like any other). */
  token(userId: string): string {
    return jwt.sign({ sub: userId }, this.secrets.jwtSecret, { algorithm: 'HS256', expiresIn: '2h' });
  }

  /** Every list page and every detail an anonymous visitor can reach: the Zipf universe, and the ceiling's pages. */
  async discover(): Promise<void> {
    const base = this.server('nocache').url;
    const first = JSON.parse((await getText(base + listPath(1))).body) as { total: number };
    this.pages = Math.min(Math.ceil(first.total / LIST_LIMIT), MAX_PAGES);
    const bodies: Record<string, unknown> = {};
    await pool(Array.from({ length: this.pages }, (_, i) => listPath(i + 1)), 8, async (path) => {
      const page = JSON.parse((await getText(base + path)).body) as { items: { id: string }[] };
      bodies[path] = page;
      this.ids.push(...page.items.map((c) => c.id));
    });
    this.ids.sort();
    await pool(this.ids, 8, async (id) => {
      const res = await getText(base + detailPath(id));
      if (res.status !== 200) {
        throw new Error(`detail ${id}: ${res.status}`);
      }
      bodies[detailPath(id)] = JSON.parse(res.body) as unknown;
    });
    this.universe = Object.keys(bodies).sort();
    for (const [path, body] of Object.entries(bodies)) {
      this.signatures.set(path, signature(body));
    }
    writeFileSync(this.pagesFile, JSON.stringify(bodies));
    const hot = JSON.stringify(bodies[listPath(1)]).length;
    log(`universe: ${this.pages} list pages (${(hot / 1024).toFixed(1)} KB each), ${this.ids.length} details`);
  }

  async discoverMix(): Promise<void> {
    const base = this.server('nocache').url;
    const ids = new Set<string>();
    const paths = ['all', 'new', 'popular'].flatMap((mode) => Array.from({ length: MIX_PAGES }, (_, i) => listPath(i + 1, mode)));
    await pool(paths, 8, async (path) => {
      const page = JSON.parse((await getText(base + path)).body) as { items: { id: string }[] };
      page.items.forEach((c) => ids.add(c.id));
    });
    this.fixtures.writers.forEach((w) => w.characterIds.forEach((id) => ids.add(id)));
    this.mixIds = [...ids].sort();
    log(`cards mix: ${this.mixIds.length} characters reachable from the grid`);
  }

  /** Every read the mix can make, once, for each viewer class: the mix starts from a warm cache. */
  async warmMix(id: SystemId): Promise<void> {
    const classes: Record<string, string>[] = [{}, { authorization: `Bearer ${this.token(this.fixtures.free[0])}` }, { authorization: `Bearer ${this.token(this.fixtures.plusNsfw[0])}` }];
    const reads = classes.flatMap((headers, c): Planned[] => [
      ...['all', 'new', 'popular'].flatMap((mode) => Array.from({ length: MIX_PAGES }, (_, i) => ({ method: 'GET' as const, path: listPath(i + 1, mode), headers }))),
      { method: 'GET', path: '/characters/featured', headers },
      ...(c === 0 ? this.mixIds.map((cid) => ({ method: 'GET' as const, path: detailPath(cid), headers })) : []),
      ...this.mixIds.map((cid) => ({ method: 'GET' as const, path: galleryPath(cid), headers })),
    ]);
    await runLoad({ url: this.server(id).url, connections: 16, amount: reads.length, workload: { sequence: reads }, title: `mix warm ${id}` });
  }

  /** One measured run of one system: a short unmeasured warm-up, then the load, with what the database saw. */
  async sample(id: SystemId, round: number, scenario: string, workload: Workload, options: { durationS?: number; amount?: number; connections?: number; during?: (server: Server) => void; measuring?: () => void } = {}): Promise<Sample> {
    let server = this.server(id);
    if (!(await alive(server))) {
      log(`${id} is not answering: restarting it on the same redis-server`);
      await server.stop({ keepRedis: true }).catch(() => undefined);
      server = await this.start(id);
    }
    const connections = options.connections ?? CONNECTIONS;
    server.resetPeakRss();
    if (!options.amount) {
      await runLoad({ url: server.url, connections, durationS: WARM_S, workload, title: `${scenario} warm ${id}` });
    }
    options.measuring?.();
    const ours = id === 'ours-redis' || id === 'ours-l1';
    const token = metricsToken(this.secrets);
    const unscraped = (error: unknown) => {
      log(`${id}: /metrics could not be read (${error instanceof Error ? error.message : String(error)}); this round has no "served" figures`);
      return null;
    };
    const scrapedBefore = ours ? await scrape(server.url, token).catch(unscraped) : null;
    const scrapedAt = performance.now();
    const before = server.db.statements;
    const [serverCpuBefore, harnessCpuBefore, startedAt] = [server.cpuSeconds(), process.cpuUsage(), performance.now()];
    const timer = options.during ? setTimeout(() => options.during!(server), ((options.durationS ?? DURATION_S) * 1000) / 2) : null;
    const result = await runLoad({ url: server.url, connections, durationS: options.durationS ?? DURATION_S, amount: options.amount, workload, title: `${scenario} r${round + 1} ${id}` });
    const elapsedS = (performance.now() - startedAt) / 1000;
    const harnessUsage = process.cpuUsage(harnessCpuBefore);
    const serverCpu = (server.cpuSeconds() - serverCpuBefore) / elapsedS;
    const harnessCpu = (harnessUsage.user + harnessUsage.system) / 1e6 / elapsedS;
    if (timer) {
      clearTimeout(timer);
    }
    // Background work the run started (refreshes after a write) belongs to it: let it land.
    await sleep(200);
    const after = server.db.statements;
    const scrapedAfter = scrapedBefore ? await scrape(server.url, token).catch(unscraped) : null;
    const sample: Sample = {
      ...result,
      ...(scrapedBefore && scrapedAfter && { served: servedBetween(scrapedBefore, scrapedAfter, (performance.now() - scrapedAt) / 1000) }),
      round,
      system: id,
      dbStatements: after - before,
      rssBytes: server.peakRssBytes(),
      redisUsedMemory: await server.redisUsedMemory().catch(() => null),
      serverCpu,
      harnessCpu,
      extra: {},
    };
    log(`${scenario} round ${round + 1}/${ROUNDS} ${id.padEnd(10)} ${Math.round(result.rps).toString().padStart(6)} req/s  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  non-2xx ${result.non2xx + result.errors + result.timeouts}  db statements/req ${(sample.dbStatements / Math.max(1, result.requests)).toFixed(3)}  cpu server ${serverCpu.toFixed(2)} harness ${harnessCpu.toFixed(2)}`);
    if (sample.served) {
      log(`  ${describeServed(sample.served)}`);
    }
    return sample;
  }

  /** Rounds of every system in turn, the first mover rotating: drift on the machine hits every system alike. */
  async rounds(systems: SystemId[], each: (id: SystemId, round: number) => Promise<Sample>): Promise<Sample[]> {
    const samples: Sample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = systems.map((_, i) => systems[(i + round) % systems.length]);
      for (const id of order) {
        samples.push(await each(id, round));
      }
    }
    return samples;
  }

  /** Fills a system's caches with every path of the workload, once (the scenarios measure a warm cache). */
  async warm(id: SystemId, paths: readonly string[]): Promise<void> {
    await runLoad({ url: this.server(id).url, connections: Math.min(16, paths.length), amount: paths.length, workload: { sequence: paths.map((path) => ({ method: 'GET', path })) }, title: `warm ${id}` });
  }

  report(scenario: Scenario, title: string, samples: Sample[], targets: (s: ReturnType<typeof summarize>) => Target[], settings: Record<string, unknown>, notes: string[] = []): ScenarioReport {
    const systems = summarize(samples, LABELS);
    const floor = systems.find((s) => s.system === 'floor');
    if (floor) {
      const x = (ratio: number | null) => `${(ratio ?? NaN).toFixed(2)} ×`;
      notes = [
        `The floor (Fastify alone, no Nest, pre-serialized pages) ran at ${x(floor.vsCeiling)} the ceiling and ${x(floor.vsPeer)} the peer, with the harness at ${floor.harnessCpu.toFixed(2)} of its core: no server can show a higher ratio in this run.`,
        ...notes,
      ];
    }
    const report: ScenarioReport = {
      scenario,
      title,
      date: new Date().toISOString().slice(0, 10),
      commit: commit(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), load: loadavg().map((l) => l.toFixed(2)), node: process.version, runtime: this.runtime.note, pinned: this.cpusForServers !== null },
      settings: { rounds: ROUNDS, ...settings },
      systems,
      targets: targets(systems),
      samples,
      notes,
    };
    this.reports.push(report);
    process.stdout.write(`\n${markdown(report)}\n`);
    return report;
  }

  /**
   * An anonymous GET whose answer is checked, one in 16 (parsing every 17 KB answer would slow the harness
   * down more than the systems): status 200 and the same ids as the uncached service answered at the start.
   */
  verified(path: string): Planned {
    const expected = this.signatures.get(path);
    let n = 0;
    return {
      method: 'GET',
      path,
      check: (status, body) => {
        if ((n++ & 15) !== 0) {
          return;
        }
        this.checked++;
        if (status !== 200 || signature(JSON.parse(body)) !== expected) {
          this.wrongAnswers++;
        }
      },
    };
  }

  /** Wrong answers since the last call: any is a failed validity check. */
  takeWrongAnswers(scenario: string, id: SystemId): void {
    if (this.wrongAnswers > 0) {
      invalid.push(`${scenario}: ${id} gave ${this.wrongAnswers} wrong answers in ${this.checked} checked`);
    }
    this.wrongAnswers = 0;
    this.checked = 0;
  }

  // --- scenarios ---

  async hot(): Promise<void> {
    const path = listPath(1);
    const all = SYSTEMS.map((s) => s.id);
    for (const id of all) {
      await this.warm(id, [path]);
    }
    const samples = await this.rounds(all, async (id, round) => {
      const sample = await this.sample(id, round, 'hot', { sequence: [this.verified(path)] });
      this.takeWrongAnswers('hot', id);
      return sample;
    });
    this.report('hot', 'Hot page: one character-list page (anonymous)', samples, pageTargets, { path, connections: CONNECTIONS, durationS: DURATION_S });
  }

  async zipf(): Promise<void> {
    const verified = new Map(this.universe.map((path) => [path, this.verified(path)]));
    const sequence = zipfPaths(this.pages, this.ids, 200_000, ZIPF_SEED).map((path) => verified.get(path)!);
    const all = SYSTEMS.map((s) => s.id);
    for (const id of all.filter((s) => s !== 'floor' && s !== 'ceiling' && s !== 'nocache')) {
      await this.warm(id, this.universe);
    }
    const samples = await this.rounds(all, async (id, round) => {
      const sample = await this.sample(id, round, 'zipf', { sequence });
      this.takeWrongAnswers('zipf', id);
      return sample;
    });
    this.report('zipf', `Zipf (s = 1) over ${this.pages} list pages and ${this.ids.length} character details (anonymous)`, samples, pageTargets, {
      connections: CONNECTIONS,
      durationS: DURATION_S,
      universe: this.universe.length,
    });
  }

  /** The cards mix on one system, with its own writers (so no other system's writes make its cache stale). */
  private mixWorkload(writers: MixFixtures['writers'], ledger: WriteLedger, seed: number, misses: Record<string, number> = {}): () => Planned {
    const random = prng(seed);
    const listRank = zipf(MIX_PAGES, 1, random);
    const idRank = zipf(this.mixIds.length, 1, random);
    const targets = writers.flatMap((w) => w.characterIds.map((id) => ({ id, owner: w.userId })));
    const anonymous = {};
    const tokens = {
      free: this.fixtures.free.map((id) => ({ authorization: `Bearer ${this.token(id)}` })),
      plus: this.fixtures.plusNsfw.map((id) => ({ authorization: `Bearer ${this.token(id)}` })),
      owners: new Map(writers.map((w) => [w.userId, { authorization: `Bearer ${this.token(w.userId)}` }])),
    };
    let writes = 0;
    const modes = ['all', 'all', 'new', 'popular'];
    return () => {
      const u = random();
      if (u < 0.05) {
        const target = targets[Math.floor(random() * targets.length)];
        const n = ++writes;
        return {
          method: 'PATCH',
          path: detailPath(target.id),
          headers: tokens.owners.get(target.owner)!,
          body: JSON.stringify({ description: `Edited by the benchmark, write ${n} (seed ${seed}).` }),
          check: (status, body) => {
            if (status === 200) {
              ledger.record(target.id, (JSON.parse(body) as { version: number }).version);
            }
          },
        };
      }
      const v = random();
      const headers = v < 0.5 ? anonymous : v < 0.8 ? tokens.free[Math.floor(random() * tokens.free.length)] : tokens.plus[Math.floor(random() * tokens.plus.length)];
      const sentAt = ledger.committed;
      const checked = (kind: string, path: string): Planned => ({
        method: 'GET',
        path,
        headers,
        check: (status, body, xCache) => {
          if (xCache === 'MISS') {
            misses[kind] = (misses[kind] ?? 0) + 1;
          }
          if (status === 200 && kind !== 'gallery') {
            ledger.checkAnswer(path, body, sentAt);
          }
        },
      });
      if (u < 0.3) {
        return checked('list', listPath(listRank() + 1, modes[Math.floor(random() * modes.length)]));
      }
      if (u < 0.38) {
        return checked('featured', '/characters/featured');
      }
      if (u < 0.8) {
        const id = random() < 0.1 ? targets[Math.floor(random() * targets.length)].id : this.mixIds[idRank()];
        return checked('detail', detailPath(id));
      }
      return checked('gallery', galleryPath(this.mixIds[idRank()]));
    };
  }

  async mix(): Promise<void> {
    const systems: SystemId[] = ['nocache', 'ours-redis', 'ours-l1'];
    const ledgers = new Map(systems.map((id) => [id, new WriteLedger()]));
    const groups = new Map(systems.map((id, i) => [id, this.fixtures.writers.filter((_, w) => w % systems.length === i)]));
    // A warm cache, as in the other scenarios (the uncached system has none to warm), in processes and Redis
    // servers that hold nothing else: Redis memory and RSS are the mix's own.
    for (const id of systems.filter((s) => s !== 'nocache')) {
      await this.fresh(id);
      await this.warmMix(id);
    }
    const samples = await this.rounds(systems, async (id, round) => {
      const ledger = ledgers.get(id)!;
      let staleBefore = 0;
      let writesBefore = 0;
      const misses: Record<string, number> = {};
      // Counted from the start of the measured run (the short warm-up before it uses the same workload).
      const measuring = () => {
        staleBefore = ledger.stale.length;
        writesBefore = ledger.committed;
        Object.keys(misses).forEach((k) => delete misses[k]);
      };
      const sample = await this.sample(id, round, 'mix', { next: this.mixWorkload(groups.get(id)!, ledger, ZIPF_SEED + round, misses) }, { measuring });
      sample.extra = {
        writes: ledger.committed - writesBefore,
        'stale reads': ledger.stale.length - staleBefore,
        ...Object.fromEntries(Object.entries(misses).map(([kind, n]) => [`misses: ${kind}`, n])),
      };
      return sample;
    });
    // Against the database: every character written through a system must read back as PostgreSQL has it.
    for (const id of systems) {
      const ledger = ledgers.get(id)!;
      const truth = await characterVersions(ledger.ids());
      let wrong = 0;
      for (const [characterId, row] of truth) {
        const res = await getText(this.server(id).url + detailPath(characterId));
        const seen = JSON.parse(res.body) as { version: number; description: string };
        if (seen.version !== row.version || seen.description !== row.description) {
          wrong++;
        }
      }
      const last = samples.filter((s) => s.system === id).at(-1)!;
      last.extra['stale after run (vs PostgreSQL)'] = wrong;
      if (ledger.stale.length + wrong > 0 && id !== 'nocache') {
        invalid.push(`mix: ${id} served ${ledger.stale.length} stale reads during the run and ${wrong} after it (e.g. ${JSON.stringify(ledger.stale[0] ?? null)})`);
      }
    }
    const memory: string[] = [];
    for (const id of systems.filter((s) => s !== 'nocache')) {
      const groups = Object.entries(await this.server(id).redisBreakdown()).sort((a, b) => b[1].bytes - a[1].bytes);
      memory.push(`Redis memory of ${id} by key group (MEMORY USAGE): ${groups.slice(0, 6).map(([g, v]) => `${g} ${v.keys} keys ${(v.bytes / 2 ** 20).toFixed(1)} MB`).join('; ')}.`);
    }
    this.report('mix', 'Cards mix: lists, featured, details, galleries across viewer classes, 5 % writes', samples, (s) => {
      const ours = s.filter((x) => x.system !== 'nocache');
      return ours.flatMap((x) => [
        { what: `${x.system}: hit ratio ≥ 95 %`, met: (x.hitRatio ?? 0) >= 0.95, detail: `${((x.hitRatio ?? 0) * 100).toFixed(1)} %` },
        { what: `${x.system}: zero stale reads (harness + PostgreSQL)`, met: (x.extra['stale reads'] ?? 0) + (x.extra['stale after run (vs PostgreSQL)'] ?? 0) === 0, detail: `${x.extra['stale reads'] ?? 0} during, ${x.extra['stale after run (vs PostgreSQL)'] ?? 0} after, of ${x.extra.writes ?? 0} writes` },
        { what: `${x.system}: Redis used_memory ≤ 64 MB`, met: (x.redisUsedMemory ?? 0) <= 64 * 2 ** 20, detail: `${((x.redisUsedMemory ?? 0) / 2 ** 20).toFixed(1)} MB; peak RSS ${(x.rssBytes / 2 ** 20).toFixed(0)} MB` },
      ]);
    }, { connections: CONNECTIONS, durationS: DURATION_S, viewers: '50 % anonymous, 30 % free, 20 % plus with NSFW on' }, [
      'Requests: 25 % list pages (all/new/popular, Zipf over pages 1–50), 8 % featured, 42 % details (10 % of them characters being written), 20 % galleries, 5 % PATCH by the owner (each system has its own 30 writers).',
      'Every answer that holds a character written through the same system is checked against the versions the writes committed before the read was sent; after the run every written character is read back and compared with PostgreSQL.',
      'The ceiling and the peer take no part: neither has writes or viewer classes (the peer caches by URL, so it cannot serve viewer-dependent answers).',
      ...memory,
      ...servedNotes(samples),
    ]);
  }

  async stampede(): Promise<void> {
    const systems: SystemId[] = ['nocache', 'peer', 'ours-redis', 'ours-l1'];
    const samples = await this.rounds(systems, async (id, round) => {
      const server = this.server(id);
      // A key nobody asked for yet, and another one to learn what one load costs the database.
      const probe = `/characters?mode=all&page=3&limit=${40 + round}`;
      const cold = `/characters?mode=all&page=3&limit=${60 + round}`;
      const before = server.db.statements;
      await getText(server.url + probe);
      const perLoad = server.db.statements - before;
      const sample = await this.sample(id, round, 'stampede', { sequence: [{ method: 'GET', path: cold }] }, { amount: STAMPEDE, connections: STAMPEDE });
      sample.extra = { 'db loads for the cold key': perLoad > 0 ? sample.dbStatements / perLoad : NaN };
      if ((id === 'ours-redis' || id === 'ours-l1') && sample.extra['db loads for the cold key'] !== 1) {
        invalid.push(`stampede: ${id} loaded the cold key ${sample.extra['db loads for the cold key']} times`);
      }
      return sample;
    });
    this.report('stampede', `Stampede: ${STAMPEDE} concurrent requests for one uncached list page`, samples, (s) =>
      s.filter((x) => x.system.startsWith('ours')).map((x) => ({
        what: `${x.system}: exactly 1 database load per round`,
        met: x.extra['db loads for the cold key'] === ROUNDS,
        detail: `${x.extra['db loads for the cold key']} loads in ${ROUNDS} rounds`,
      })),
    { requests: STAMPEDE, connections: STAMPEDE }, ['db loads = statements the system sent PostgreSQL during the stampede ÷ statements of one load of another cold key (measured just before).']);
  }

  async kill(): Promise<void> {
    const systems: SystemId[] = ['nocache', 'peer', 'ours-redis', 'ours-l1'];
    const sequence = zipfPaths(this.pages, this.ids, 200_000, ZIPF_SEED).map((path): Planned => ({ method: 'GET', path }));
    const samples = await this.rounds(systems, async (id, round) => {
      const server = this.server(id);
      if (server.redis) {
        await this.warm(id, this.universe);
      }
      const sample = await this.sample(id, round, 'kill', { sequence }, {
        durationS: KILL_S,
        during: (s) => void s.redis?.kill().then(() => log(`kill: SIGKILL to ${id}'s redis-server`)),
      });
      // Whole seconds clear of the kill (at DURATION_S / 2) and of the run's edges.
      const half = Math.floor(KILL_S / 2);
      const rate = (from: number, to: number) => {
        const seconds = sample.perSecond.slice(from, to);
        return seconds.length ? seconds.reduce((a, b) => a + b, 0) / seconds.length : 0;
      };
      sample.extra = { 'req/s before the kill': rate(1, half), 'req/s after the kill': rate(half + 1, KILL_S - 1) };
      if (id.startsWith('ours') && sample.extra['req/s after the kill'] === 0) {
        invalid.push(`kill: ${id} stopped answering when Redis died`);
      }
      if (server.redis) {
        await server.redis.spawn();
        await sleep(2_000);
      }
      return sample;
    });
    this.report('kill', 'Redis killed (SIGKILL) half-way through a Zipf run', samples, (s) => {
      const base = s.find((x) => x.system === 'nocache')!;
      return s.filter((x) => x.system.startsWith('ours')).flatMap((x) => [
        { what: `${x.system}: 0 non-2xx`, met: x.non2xx + x.errors === 0, detail: `${x.non2xx + x.errors}` },
        { what: `${x.system}: p99 ≤ no-cache p99 + 5 ms`, met: x.p99 <= base.p99 + 5, detail: `${x.p99.toFixed(2)} vs ${base.p99.toFixed(2)} + 5 ms` },
        { what: `${x.system}: keeps answering after the kill`, met: (x.extra['req/s after the kill'] ?? 0) > 0, detail: `${((x.extra['req/s after the kill'] ?? 0) / ROUNDS).toFixed(0)} req/s after vs ${((x.extra['req/s before the kill'] ?? 0) / ROUNDS).toFixed(0)} before (mean of rounds)` },
      ]);
    }, { connections: CONNECTIONS, durationS: KILL_S }, [
      'The system’s own redis-server is killed half-way through each round and started again (empty) after it; caches are warmed again before the next round.',
      'Latency percentiles only cover answered requests: a system that stops answering shows it in "req/s after the kill" (summed over rounds here), not in p99.',
    ]);
  }
}

function signature(body: unknown): string {
  const b = body as { id?: string; items?: { id: string }[] };
  return b.items ? `list:${b.items.map((c) => c.id).join(',')}` : `one:${b.id}`;
}

async function alive(server: Server): Promise<boolean> {
  try {
    return (await getText(`${server.url}/characters/featured`)).status > 0;
  } catch {
    return false;
  }
}

const pageTargets = (systems: ReturnType<typeof summarize>): Target[] => {
  const get = (id: SystemId) => systems.find((s) => s.system === id)!;
  const l1 = get('ours-l1');
  const l2 = get('ours-redis');
  const r = (x: number | null) => `${(x ?? NaN).toFixed(2)} ×`;
  return [
    { what: 'ours L1 + Redis ≥ 0.9 × ceiling req/s', met: (l1.vsCeiling ?? 0) >= 0.9, detail: r(l1.vsCeiling) },
    { what: 'ours L1 + Redis p99 ≤ 1.2 × ceiling p99', met: (l1.p99VsCeiling ?? Infinity) <= 1.2, detail: r(l1.p99VsCeiling) },
    { what: 'ours L1 + Redis ≥ 2.5 × peer', met: (l1.vsPeer ?? 0) >= 2.5, detail: r(l1.vsPeer) },
    { what: 'ours Redis only ≥ 0.75 × ceiling', met: (l2.vsCeiling ?? 0) >= 0.75, detail: r(l2.vsCeiling) },
    { what: 'ours Redis only ≥ 2 × peer', met: (l2.vsPeer ?? 0) >= 2, detail: r(l2.vsPeer) },
  ];
};

function save(reports: ScenarioReport[]): void {
  const dir = QUICK ? join(tmpdir(), 'cards-bench-quick') : join('bench', 'results');
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  for (const report of reports) {
    writeFileSync(join(dir, `${date}-${report.scenario}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(dir, `${date}-${report.scenario}.md`), markdown(report));
  }
  // The chart and the README block show a whole run: a run of some scenarios leaves them as they were.
  if (QUICK || reports.length === SCENARIOS.length) {
    writeFileSync(join(dir, `${date}-load-ratios.svg`), ratioChart(reports));
  }
  if (!QUICK && reports.length === SCENARIOS.length) {
    const readme = readFileSync('bench/README.md', 'utf8');
    const start = '<!-- load-results:start -->';
    const end = '<!-- load-results:end -->';
    const body = `${start}\n![req/s as a multiple of the ceiling](results/${date}-load-ratios.svg)\n\n${reports.map(markdown).join('\n')}${end}`;
    const updated = readme.includes(start) ? readme.replace(new RegExp(`${start}[\\s\\S]*${end}`), body) : `${readme}\n${body}\n`;
    writeFileSync('bench/README.md', updated);
  }
  log(`results in ${dir}/${date}-*`);
}

async function main(): Promise<void> {
  const runtime = benchNode(nodeChoice(args.node), process.cwd(), log);
  const again = onBenchNode(runtime);
  if (again) {
    process.exitCode = await again;
    return;
  }
  log(`runtime: ${runtime.note}`);
  const pins = pinning();
  if (!args['no-build']) {
    log('building the service and the peers…');
    execFileSync('npm', ['run', '--silent', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('npx', ['tsc', '-p', 'bench/peers/tsconfig.json'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  execFileSync('bash', ['test/support/ensure-services.sh'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await ensureDataSet(FULL_DATA, log);
  const secrets: RunSecrets = { jwtSecret: randomBytes(32).toString('hex') };
  const pagesFile = join(tmpdir(), `cards-bench-pages-${process.pid}.json`);
  const bench = new Bench(secrets, pins.servers, pagesFile, runtime);
  // Every server this run started, also one being restarted that no map holds yet (see Server.stopEverything).
  const stopAll = () => Server.stopEverything();
  let original = new Map<string, string>();
  // Not `once`: a Ctrl-C can arrive twice (from the terminal, and relayed by tsx and by the Node re-exec: see
  // onBenchNode), and a second one must not end the process halfway through stopping what it started.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => () => {
    if (!interrupted) {
      interrupted = true;
      log(`${signal}: stopping every server and redis-server of this run`);
      void stopAll().then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    }
  };
  process.on('SIGINT', onSignal('SIGINT')).on('SIGTERM', onSignal('SIGTERM'));
  try {
    await bench.start('nocache');
    await bench.discover();
    bench.fixtures = await mixFixtures();
    original = await descriptions(bench.fixtures.writers.flatMap((w) => w.characterIds));
    await bench.discoverMix();
    for (const spec of SYSTEMS.filter((s) => s.id !== 'nocache')) {
      await bench.start(spec.id);
    }
    log(`systems up: ${[...bench.servers.values()].map((s) => `${s.spec.id} :${s.port}`).join(', ')}`);
    for (const scenario of chosen) {
      await bench[scenario]();
    }
    save(bench.reports);
  } finally {
    await stopAll();
    rmSync(pagesFile, { force: true });
    await restoreDescriptions(original);
  }
  const missed = bench.reports.flatMap((r) => r.targets.filter((t) => !t.met).map((t) => `${r.scenario}: ${t.what} (${t.detail})`));
  if (missed.length) {
    log(`targets missed:\n  ${missed.join('\n  ')}`);
  }
  if (invalid.length) {
    log(`INVALID:\n  ${invalid.join('\n  ')}`);
    process.exitCode = 1;
  }
  log(`median load average during the run: ${median(loadavg()).toFixed(2)}`);
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
