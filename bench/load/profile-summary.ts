import { readFileSync } from 'node:fs';

/**
 * Where a server's CPU went: `tsx bench/load/profile-summary.ts <file.cpuprofile> [top] [window-seconds]`. Prints
 * self time by function and by package (node_modules/<pkg>, our src/<dir>, node internals), and the idle share.
 * With a window, only the busiest stretch of that many seconds counts (a measured run, not the boot, the warm-up
 * or the idle time between rounds). With `cached` after it, only stretches where the database drivers (typeorm,
 * pg) took under 1 % count: a warm-cache run, not the filling of the cache before it, which can be busier.
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, top = '30', windowArg, mode] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const isIdle = (id: number) => byId.get(id)!.callFrame.functionName === '(idle)';

const isDatabase = (id: number) => /node_modules\/(typeorm|pg)\//.test(byId.get(id)!.callFrame.url);

/** [from, to) sample indexes of the window with the least idle time (and, `cached`, almost no database work). */
function busiest(seconds: number, cached: boolean): [number, number] {
  const span = seconds * 1e6;
  let [from, best, bestFrom, bestTo, elapsed, busy, database] = [0, -1, 0, profile.samples.length, 0, 0, 0];
  for (let to = 0; to < profile.samples.length; to++) {
    const delta = profile.timeDeltas[to] ?? 0;
    elapsed += delta;
    busy += isIdle(profile.samples[to]) ? 0 : delta;
    database += isDatabase(profile.samples[to]) ? delta : 0;
    while (elapsed > span) {
      const gone = profile.timeDeltas[from] ?? 0;
      elapsed -= gone;
      busy -= isIdle(profile.samples[from]) ? 0 : gone;
      database -= isDatabase(profile.samples[from]) ? gone : 0;
      from++;
    }
    if (busy > best && (!cached || database < elapsed / 100)) {
      [best, bestFrom, bestTo] = [busy, from, to + 1];
    }
  }
  return [bestFrom, bestTo];
}

const [first, last] = windowArg ? busiest(Number(windowArg), mode === 'cached') : [0, profile.samples.length];
const self = new Map<number, number>();
for (let i = first; i < last; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

function where(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) {
    return pkg[1];
  }
  const ours = /\/(dist|src)\/([^/]+)/.exec(url);
  if (ours) {
    return `ours:${ours[2]}`;
  }
  return url.startsWith('node:') ? url : url ? 'other' : '(native/gc/idle)';
}

const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const name = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const pkg = functionName === '(idle)' || functionName === '(garbage collector)' || functionName === '(program)' ? functionName : where(url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
}
const show = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
  }
};
const idle = byPackage.get('(idle)') ?? 0;
console.log(`busy ${((total - idle) / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms profiled (percentages below are of the total)`);
show('self time by package', byPackage, 25);
show('self time by function', byFunction, Number(top));
