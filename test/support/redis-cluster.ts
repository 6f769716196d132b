import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster } from 'ioredis';
import { freePort, waitForRedis } from './redis-server';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ClusterNode {
  readonly port: number;
  readonly busPort: number;
  readonly process: ChildProcess;
}

/**
 * A Redis Cluster of the suite's own: N masters (and R replicas each), on free ports of 127.0.0.1, in a temp dir. Stopped
 * by PID — never by name, and the machine's shared Redis is never touched — by `stop()`, by a safety timer, on
 * process exit, and by a detached watchdog (which also removes the temp dir) if the test process dies without running any of those.
 */
export class OwnRedisCluster {
  private stopped = false;
  private password: string | undefined;
  private readonly safetyTimer: NodeJS.Timeout;
  private readonly onExit = () => this.killNow();

  private constructor(
    private readonly dir: string,
    private readonly members: ClusterNode[],
    private readonly watchdog: ChildProcess,
    lifetimeMs: number,
  ) {
    this.safetyTimer = setTimeout(() => void this.stop(), lifetimeMs).unref();
    process.once('exit', this.onExit);
  }

  /**
   * Starts `masters` × (1 + `replicas`) nodes, joins them with `redis-cli --cluster create`, waits for
   * cluster_state:ok everywhere.
   */
  static async start({ masters = 3, replicas = 0, lifetimeMs = 120_000 } = {}): Promise<OwnRedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'cache-cluster-'));
    const members: ClusterNode[] = [];
    let cluster: OwnRedisCluster | null = null;
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        members.push(await startNode(dir));
      }
      cluster = new OwnRedisCluster(dir, members, startWatchdog(dir, members, lifetimeMs), lifetimeMs);
      const addresses = members.map((m) => `127.0.0.1:${m.port}`);
      await run(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'],
        {
          timeout: 30_000,
        },
      );
      await cluster.waitUntilOk();
      return cluster;
    } catch (error) {
      if (cluster) {
        await cluster.stop();
      } else {
        members.forEach((m) => m.process.kill('SIGKILL'));
        rmSync(dir, { recursive: true, force: true });
      }
      throw error;
    }
  }

  /** Seed nodes as the cache's `redis.cluster.nodes` option wants them. */
  get nodes(): { host: string; port: number }[] {
    return this.members.map((m) => ({ host: '127.0.0.1', port: m.port }));
  }

  get ports(): number[] {
    return this.members.map((m) => m.port);
  }

  /** A plain cluster client for assertions (what did Redis really store?). */
  client(): Cluster {
    return new Cluster(this.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  }

  /** Runs `fn` against each node still running, with its own plain connection. */
  async onEachNode<T>(fn: (node: Redis, port: number) => Promise<T>): Promise<T[]> {
    const alive = this.members.filter((m) => m.process.exitCode === null && m.process.signalCode === null);
    return Promise.all(
      alive.map(async ({ port }) => {
        const node = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, password: this.password });
        try {
          return await fn(node, port);
        } finally {
          node.disconnect();
        }
      }),
    );
  }

  /** Which master (by port) serves each hash slot. */
  async slotOwners(): Promise<(slot: number) => number> {
    const [ranges] = await this.onEachNode((node) => node.cluster('SLOTS'));
    return (slot) => {
      const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
      if (!master) {
        throw new Error(`slot ${slot} is not served by any node`);
      }
      return master[1];
    };
  }

  /**
   * Runs `during` while every node refuses new connections (they need a password nobody else knows); connections
   * already open keep working. Holds a reconnecting client off for exactly as long as a test needs.
   */
  async refusingNewConnections<T>(during: () => Promise<T>): Promise<T> {
    const password = randomUUID();
    await this.onEachNode((node) => node.config('SET', 'requirepass', password));
    this.password = password;
    try {
      return await during();
    } finally {
      await this.onEachNode((node) => node.config('SET', 'requirepass', ''));
      this.password = undefined;
    }
  }

  /** A plain connection to one node (the caller disconnects it). */
  node(port: number): Redis {
    return new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, password: this.password });
  }

  /** The port of a replica of the master on `masterPort` (once the master lists one: gossip takes a moment). */
  async replicaOf(masterPort: number): Promise<number> {
    const node = this.node(masterPort);
    try {
      const myId = await node.cluster('MYID');
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const [line] = (await node.call('CLUSTER', 'REPLICAS', myId)) as string[];
        if (line) {
          return Number(/:(\d+)@/.exec(line)![1]);
        }
        await sleep(50);
      }
      throw new Error(`no replica of ${masterPort}`);
    } finally {
      node.disconnect();
    }
  }

  /** SIGKILL one node. */
  async kill(port: number): Promise<void> {
    const { process: child } = this.member(port);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** SIGSTOP one node (it answers nothing, and takes no replication), or SIGCONT it. */
  freeze(port: number): void {
    this.member(port).process.kill('SIGSTOP');
  }

  thaw(port: number): void {
    this.member(port).process.kill('SIGCONT');
  }

  private member(port: number): ClusterNode {
    const member = this.members.find((m) => m.port === port);
    if (!member) {
      throw new Error(`no node on ${port}`);
    }
    return member;
  }

  async flushAll(): Promise<void> {
    await this.onEachNode((node) => node.flushall());
  }

  /** Zeroes INFO commandstats and errorstats on every node. */
  async resetStats(): Promise<void> {
    await this.onEachNode((node) => node.config('RESETSTAT'));
  }

  /** Calls per command (lower case: `get`, `mget`, `evalsha`, …) summed over the nodes since the last reset. */
  async commandCalls(): Promise<Map<string, number>> {
    return sumStats(
      await this.onEachNode((node) => node.info('commandstats')),
      /^cmdstat_([^:]+):calls=(\d+)/gm,
    );
  }

  /** Errors by their prefix (`CROSSSLOT`, `MOVED`, `ERR`, …) summed over the nodes since the last reset. */
  async errorCounts(): Promise<Map<string, number>> {
    return sumStats(
      await this.onEachNode((node) => node.info('errorstats')),
      /^errorstat_([^:]+):count=(\d+)/gm,
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) {
      return;
    }
    this.stopped = true;
    clearTimeout(this.safetyTimer);
    process.removeListener('exit', this.onExit);
    this.watchdog.kill('SIGKILL');
    await Promise.all(
      this.members.map(async (m) => {
        if (m.process.exitCode !== null || m.process.signalCode !== null) {
          return;
        }
        const exited = new Promise((resolve) => m.process.once('exit', resolve));
        m.process.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort on process exit: synchronous, so it can only signal. */
  private killNow(): void {
    this.watchdog.kill('SIGKILL');
    this.members.forEach((m) => m.process.kill('SIGKILL'));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitUntilOk(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const infos = await this.onEachNode((node) => node.cluster('INFO'));
      const ok = infos.every(
        (info) =>
          /cluster_state:ok/.test(info) &&
          new RegExp(`cluster_known_nodes:${this.members.length}\\b`).test(info),
      );
      if (ok) {
        return;
      }
      await sleep(50);
    }
    throw new Error('the test cluster did not reach cluster_state:ok');
  }
}

/** One cluster-enabled redis-server; retried on fresh ports if another process took the ones picked. */
async function startNode(dir: string): Promise<ClusterNode> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    // The cluster bus port is chosen too: the default (port + 10000) can fall outside the port range.
    const [port, busPort] = [await freePort(), await freePort()];
    const settings: [string, string][] = [
      ['port', String(port)],
      ['cluster-enabled', 'yes'],
      ['cluster-port', String(busPort)],
      ['cluster-config-file', join(dir, `nodes-${port}.conf`)],
      ['cluster-node-timeout', '2000'],
      // A replica's first sync would wait 5 s for others to share it.
      ['repl-diskless-sync-delay', '0'],
      ['save', ''],
      ['appendonly', 'no'],
      ['bind', '127.0.0.1'],
      ['dir', dir],
    ];
    const child = spawn(
      'redis-server',
      settings.flatMap(([name, value]) => [`--${name}`, value]),
      { stdio: 'ignore' },
    );
    try {
      await waitUntilReady(port, child);
      return { port, busPort, process: child };
    } catch (error) {
      lastError = error;
      child.kill('SIGKILL');
    }
  }
  throw lastError;
}

const waitUntilReady = (port: number, child: ChildProcess): Promise<void> =>
  waitForRedis(port, () => child.exitCode === null);

/**
 * A detached shell that SIGKILLs the nodes once this process is gone (or the lifetime is over), for when the test
 * process is killed before any of its own clean-ups can run. It checks each PID is still a redis-server first,
 * so a recycled PID is never hit.
 */
function startWatchdog(dir: string, members: ClusterNode[], lifetimeMs: number): ChildProcess {
  const pids = members.map((m) => m.process.pid).join(' ');
  const script = `
    end=$(( $(date +%s) + ${Math.ceil(lifetimeMs / 1000) + 30} ))
    while kill -0 ${process.pid} 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
    for p in ${pids}; do
      [ "$(cat /proc/$p/comm 2>/dev/null)" = redis-server ] && kill -9 "$p"
    done
    rm -rf '${dir}'`;
  const watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

function sumStats(sections: string[], pattern: RegExp): Map<string, number> {
  const totals = new Map<string, number>();
  for (const section of sections) {
    for (const [, name, count] of section.matchAll(pattern)) {
      totals.set(name, (totals.get(name) ?? 0) + Number(count));
    }
  }
  return totals;
}
