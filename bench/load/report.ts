import type { LoadResult } from './load';
import type { Served } from './served';
import type { SystemId } from './servers';

/** One system's run in one round of a scenario. */
export interface Sample extends LoadResult {
  round: number;
  system: SystemId;
  /** Statements the system sent PostgreSQL during the measured run (see PgCountProxy). */
  dbStatements: number;
  /** Peak resident memory of the server during the sample (warm-up included). */
  rssBytes: number;
  redisUsedMemory: number | null;
  /**
   * Cores busy during the measured run: the server's process and this harness (load generator included). A server
   * near 1.0 is the bottleneck (it is pinned to one core); a harness near 1.0 means the load generator was.
   */
  serverCpu: number;
  harnessCpu: number;
  /** Scenario-specific figures (stale reads, loads for the cold key, …). */
  extra: Record<string, number>;
  /** Ours only: how it served the run, from its own /metrics (see Served). */
  served?: Served;
}

export interface SystemSummary {
  system: SystemId;
  label: string;
  rps: number;
  p50: number;
  p99: number;
  hitRatio: number | null;
  dbPerRequest: number;
  redisUsedMemory: number | null;
  rssBytes: number;
  /** Median cores busy in the measured runs (see Sample). */
  serverCpu: number;
  harnessCpu: number;
  non2xx: number;
  errors: number;
  /** Medians of same-round ratios (drift on a shared machine hits both sides of a ratio alike). */
  vsCeiling: number | null;
  vsPeer: number | null;
  p99VsCeiling: number | null;
  /**
   * The lowest and highest same-round req/s ratios behind `vsCeiling` and `vsPeer`: a wide range says the machine
   * drifted within rounds, and the median cannot settle a target near it. Absent in results written before.
   */
  roundsVsCeiling?: [min: number, max: number] | null;
  roundsVsPeer?: [min: number, max: number] | null;
  extra: Record<string, number>;
}

export interface Target {
  what: string;
  met: boolean;
  detail: string;
}

export interface ScenarioReport {
  scenario: string;
  title: string;
  date: string;
  commit: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  systems: SystemSummary[];
  targets: Target[];
  samples: Sample[];
  notes: string[];
}

export const median = (values: number[]): number => {
  if (values.length === 0) {
    return NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Medians over rounds, and every system's same-round ratios to the ceiling and to the peer. */
export function summarize(samples: Sample[], labels: Record<string, string>): SystemSummary[] {
  const systems = [...new Set(samples.map((s) => s.system))];
  const byRound = (system: SystemId, round: number) => samples.find((s) => s.system === system && s.round === round);
  const ratios = (system: SystemId, other: SystemId, pick: (s: Sample) => number) =>
    samples
      .filter((s) => s.system === system)
      .map((s) => {
        const o = byRound(other, s.round);
        return o && pick(o) > 0 ? pick(s) / pick(o) : NaN;
      })
      .filter((r) => Number.isFinite(r));
  const ratio = (system: SystemId, other: SystemId, pick: (s: Sample) => number) => {
    const all = ratios(system, other, pick);
    return all.length ? median(all) : null;
  };
  const range = (system: SystemId, other: SystemId): [number, number] | null => {
    const all = system === other ? [] : ratios(system, other, (s) => s.rps);
    return all.length > 1 ? [Math.min(...all), Math.max(...all)] : null;
  };
  return systems.map((system) => {
    const mine = samples.filter((s) => s.system === system);
    const requests = mine.reduce((n, s) => n + s.requests, 0);
    const hits = mine.reduce((n, s) => n + s.hits, 0);
    const misses = mine.reduce((n, s) => n + s.misses, 0);
    const extraKeys = [...new Set(mine.flatMap((s) => Object.keys(s.extra)))];
    return {
      system,
      label: labels[system] ?? system,
      rps: median(mine.map((s) => s.rps)),
      p50: median(mine.map((s) => s.p50)),
      p99: median(mine.map((s) => s.p99)),
      hitRatio: hits + misses > 0 ? hits / (hits + misses) : null,
      dbPerRequest: requests > 0 ? mine.reduce((n, s) => n + s.dbStatements, 0) / requests : 0,
      redisUsedMemory: mine.some((s) => s.redisUsedMemory !== null) ? Math.max(...mine.map((s) => s.redisUsedMemory ?? 0)) : null,
      rssBytes: Math.max(...mine.map((s) => s.rssBytes)),
      // Results written before these were measured have neither.
      serverCpu: median(mine.map((s) => s.serverCpu ?? NaN).filter(Number.isFinite)),
      harnessCpu: median(mine.map((s) => s.harnessCpu ?? NaN).filter(Number.isFinite)),
      non2xx: mine.reduce((n, s) => n + s.non2xx, 0),
      errors: mine.reduce((n, s) => n + s.errors + s.timeouts, 0),
      vsCeiling: system === 'ceiling' ? 1 : ratio(system, 'ceiling', (s) => s.rps),
      vsPeer: system === 'peer' ? 1 : ratio(system, 'peer', (s) => s.rps),
      p99VsCeiling: system === 'ceiling' ? 1 : ratio(system, 'ceiling', (s) => s.p99),
      roundsVsCeiling: range(system, 'ceiling'),
      roundsVsPeer: range(system, 'peer'),
      extra: Object.fromEntries(extraKeys.map((k) => [k, mine.reduce((n, s) => n + (s.extra[k] ?? 0), 0)])),
    };
  });
}

const fmt = (n: number | null, digits = 0) => (n === null || !Number.isFinite(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const mb = (bytes: number | null) => (bytes === null ? '–' : `${(bytes / 1_048_576).toFixed(1)} MB`);
const pct = (r: number | null) => (r === null ? '–' : `${(r * 100).toFixed(1)} %`);
const times = (r: number | null) => (r === null ? '–' : `${r.toFixed(2)} ×`);
/** A median ratio, with the range of the same-round ratios behind it when there was more than one round. */
const timesOver = (r: number | null, rounds: [number, number] | null | undefined) =>
  r === null || !rounds ? times(r) : `${times(r)} (${rounds[0].toFixed(2)}–${rounds[1].toFixed(2)})`;

export function markdown(report: ScenarioReport): string {
  const extraKeys = [...new Set(report.systems.flatMap((s) => Object.keys(s.extra)))];
  const header = ['system', 'req/s', 'p50 ms', 'p99 ms', 'hit ratio', 'db statements/req', 'Redis used_memory', 'server peak RSS', 'server CPU', 'harness CPU', 'non-2xx', '× ceiling', '× peer', 'p99 × ceiling', ...extraKeys];
  const rows = report.systems.map((s) => [
    s.label,
    fmt(s.rps),
    fmt(s.p50, 2),
    fmt(s.p99, 2),
    pct(s.hitRatio),
    fmt(s.dbPerRequest, 3),
    mb(s.redisUsedMemory),
    mb(s.rssBytes),
    fmt(s.serverCpu, 2),
    fmt(s.harnessCpu, 2),
    fmt(s.non2xx + s.errors),
    timesOver(s.vsCeiling, s.roundsVsCeiling),
    timesOver(s.vsPeer, s.roundsVsPeer),
    times(s.p99VsCeiling),
    ...extraKeys.map((k) => fmt(s.extra[k] ?? null)),
  ]);
  const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  const targets = report.targets.length
    ? `\n\n| target | met | measured |\n|---|---|---|\n${report.targets.map((t) => `| ${t.what} | ${t.met ? 'yes' : '**no**'} | ${t.detail} |`).join('\n')}`
    : '';
  const notes = report.notes.length ? `\n\n${report.notes.map((n) => `- ${n}`).join('\n')}` : '';
  const settings = Object.entries(report.settings).map(([k, v]) => `${k} ${String(v)}`).join(', ');
  const runtime = typeof report.machine.runtime === 'string' ? report.machine.runtime : `Node ${String(report.machine.node)}`;
  return `### ${report.title}\n\n${report.date}, commit ${report.commit}, ${runtime}; ${settings}. Medians of ${String(report.settings.rounds)} alternating rounds; ratios are medians of same-round ratios (in brackets: the lowest and highest of them).\n\n${table}${targets}${notes}\n`;
}

/** Bars of every system's req/s as a multiple of the ceiling, one group per scenario; the targets as lines. */
export function ratioChart(reports: ScenarioReport[]): string {
  const colours: Record<string, string> = { floor: '#d6d6d6', ceiling: '#9e9e9e', nocache: '#e57373', peer: '#ffb74d', 'ours-redis': '#64b5f6', 'ours-l1': '#1565c0' };
  const groups = reports.filter((r) => r.systems.some((s) => s.vsCeiling !== null));
  const barH = 16;
  const left = 310;
  const scaleMax = Math.max(1.2, ...groups.flatMap((g) => g.systems.map((s) => s.vsCeiling ?? 0)));
  const width = 820;
  const x = (ratio: number) => left + (ratio / scaleMax) * (width - left - 60);
  let y = 40;
  const parts: string[] = [];
  for (const group of groups) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${escape(group.title)}</text>`);
    y += 8;
    for (const s of group.systems) {
      const r = s.vsCeiling ?? 0;
      parts.push(`<text x="10" y="${y + barH - 4}">${escape(s.label)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(r) - left)}" height="${barH - 2}" fill="${colours[s.system] ?? '#607d8b'}"/>`);
      parts.push(`<text x="${x(r) + 4}" y="${y + barH - 4}">${r.toFixed(2)} ×</text>`);
      y += barH;
    }
    y += 22;
  }
  const lines = [0.75, 0.9, 1].map((r) => `<line x1="${x(r)}" y1="24" x2="${x(r)}" y2="${y - 16}" stroke="#444" stroke-dasharray="${r === 1 ? '0' : '4 3'}"/><text x="${x(r) - 10}" y="18">${r}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${lines.join('\n')}
${parts.join('\n')}
</svg>
`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
