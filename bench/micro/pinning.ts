import { execFileSync } from 'node:child_process';

/**
 * Where the benchmark process and its redis-server ran. Unpinned, the scheduler moves them between the 2 vCPUs as it
 * likes, and a loopback round trip is bimodal: a hand-off on one core (raw GET ~25 µs) or a wake-up across cores
 * (~100 µs), so a Redis row's median depends on which the scheduler happened to pick during its slices (medians of
 * the same case went 1.4-3.9× apart between unpinned runs, ~1.2-1.6× pinned).
 */
export interface Pinning {
  /**
   * `split` (default): one CPU each, as with a Redis on another host: the round trip is a wake-up across cores, and
   * Redis works while the client does. `same`: both on one CPU; steadier still, but every µs either side spends per
   * op is then paid in turn, which no deployment does (our SET + PUBLISH came out 2.7× BentoCache's SET, 1.3× split).
   * `none`: not pinned.
   */
  mode: PinMode;
  /** CPU of the node process running the cases (all its threads), null when not pinned. */
  benchCpu: number | null;
  /** CPU of the redis-server (all its threads), null when not pinned. */
  redisCpu: number | null;
  /** One line for the printed header and the Markdown: what was done, or why it could not be. */
  note: string;
}

export type PinMode = 'split' | 'same' | 'none';

export const PIN_MODES: readonly PinMode[] = ['split', 'same', 'none'];

/** The CPUs this process may run on (`taskset -c -p`: "pid 42's current affinity list: 0,1" or "0-3"), null without taskset. */
function allowedCpus(): number[] | null {
  try {
    const out = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
    const list = out.slice(out.lastIndexOf(':') + 1).trim();
    return list.split(',').flatMap((part) => {
      const [lo, hi = lo] = part.split('-').map(Number);
      return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
    });
  } catch {
    return null;
  }
}

/** `-a`: every thread, not just the main one (node's V8 and libuv threads, redis-server's bio threads). */
function pin(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/**
 * Pins this process and the redis-server `redisPid`: by default to the last and the first allowed CPU (the load
 * benchmark's sides: harness on CPU 1, servers on CPU 0). Falls back to not pinning, and says why, when there is no
 * taskset, fewer than 2 CPUs, or taskset refuses.
 */
export function pinBenchmark(redisPid: number | undefined, mode: PinMode = 'split'): Pinning {
  const none = (why: string): Pinning => ({
    mode: 'none',
    benchCpu: null,
    redisCpu: null,
    note: `not pinned: ${why}`,
  });
  if (mode === 'none') {
    return none('--pin none');
  }
  const allowed = allowedCpus();
  if (!allowed) {
    return none('taskset not found');
  }
  if (allowed.length < 2) {
    return none(`only ${allowed.length} CPU allowed (${allowed.join(',')})`);
  }
  if (redisPid === undefined) {
    return none('no redis-server PID');
  }
  const benchCpu = allowed[allowed.length - 1];
  const redisCpu = mode === 'same' ? benchCpu : allowed[0];
  try {
    pin(redisPid, redisCpu);
    pin(process.pid, benchCpu);
  } catch (error) {
    return none(`taskset failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  const note =
    mode === 'same'
      ? `benchmark and redis-server both pinned to CPU ${benchCpu} (taskset)`
      : `benchmark pinned to CPU ${benchCpu}, redis-server to CPU ${redisCpu} (taskset)`;
  return { mode, benchCpu, redisCpu, note };
}
