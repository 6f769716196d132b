import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, OwnRedis, waitForRedis } from './redis-server';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A Sentinel-managed Redis of the suite's own: a master, one replica and one sentinel (quorum 1), each a
 * redis-server on a free port of 127.0.0.1, stopped by PID — never by name; the machine's shared Redis is never
 * touched. The sentinel's config file lives in a temp dir (Sentinel rewrites it), removed by `stop()`.
 */
export class OwnSentinelGroup {
  static readonly NAME = 'cache-test';

  private readonly onExit = () => this.sentinel.kill('SIGKILL');

  private constructor(
    readonly servers: [OwnRedis, OwnRedis],
    private readonly sentinel: ChildProcess,
    readonly sentinelPort: number,
    private readonly dir: string,
  ) {
    // A test process that dies without its afterAll must not leave a sentinel behind (the servers are its own).
    process.once('exit', this.onExit);
  }

  static async start(): Promise<OwnSentinelGroup> {
    const master = await OwnRedis.start();
    const replica = await OwnRedis.start(['--replicaof', '127.0.0.1', String(master.port)]);
    const dir = mkdtempSync(join(tmpdir(), 'cache-sentinel-'));
    const port = await freePort();
    const config = join(dir, 'sentinel.conf');
    writeFileSync(
      config,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${OwnSentinelGroup.NAME} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${OwnSentinelGroup.NAME} 1000`,
        `sentinel failover-timeout ${OwnSentinelGroup.NAME} 5000`,
        '',
      ].join('\n'),
    );
    const sentinel = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
    const group = new OwnSentinelGroup([master, replica], sentinel, port, dir);
    try {
      await waitForRedis(port, () => sentinel.exitCode === null);
      await group.waitFor(async () => (await group.masterPort()) === master.port && (await group.replicasKnown()) >= 1);
      await group.waitFor(async () => (await group.role(replica.port)) === 'slave:up');
      return group;
    } catch (error) {
      await group.stop();
      throw error;
    }
  }

  get sentinels(): { host: string; port: number }[] {
    return [{ host: '127.0.0.1', port: this.sentinelPort }];
  }

  /** The port of the server Sentinel names as master now. */
  async masterPort(): Promise<number> {
    const [, port] = (await this.ask((s) => s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', OwnSentinelGroup.NAME))) as string[];
    return Number(port);
  }

  /**
   * Forces a failover to the replica; returns once Sentinel names the new master and it has taken the role. The
   * old master is told to follow it only later (Sentinel's next look at it, seconds on): until then it still
   * says `master` and accepts writes, as a real one cut off by a partition would.
   */
  async failover(): Promise<{ from: number; to: number }> {
    const from = await this.masterPort();
    const to = this.servers.find((s) => s.port !== from)!.port;
    await this.ask((s) => s.call('SENTINEL', 'FAILOVER', OwnSentinelGroup.NAME));
    await this.waitFor(async () => (await this.masterPort()) === to && (await this.role(to)) === 'master');
    return { from, to };
  }

  /** `master`, or `slave:<link state>` as INFO replication tells it. */
  async role(port: number): Promise<string> {
    const client = this.client(port);
    try {
      const info = await client.info('replication');
      const role = /role:(\w+)/.exec(info)?.[1] ?? '?';
      return role === 'slave' ? `slave:${/master_link_status:(\w+)/.exec(info)?.[1] ?? '?'}` : role;
    } finally {
      client.disconnect();
    }
  }

  /** A plain client to one of the servers, by port. */
  client(port: number): Redis {
    return new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.onExit);
    if (this.sentinel.exitCode === null && this.sentinel.signalCode === null) {
      const exited = new Promise((resolve) => this.sentinel.once('exit', resolve));
      this.sentinel.kill('SIGKILL');
      await exited;
    }
    await Promise.all(this.servers.map((s) => s.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async replicasKnown(): Promise<number> {
    return ((await this.ask((s) => s.call('SENTINEL', 'REPLICAS', OwnSentinelGroup.NAME))) as unknown[]).length;
  }

  private async ask<T>(fn: (sentinel: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(this.sentinelPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      return await fn(client);
    } finally {
      client.disconnect();
    }
  }

  private async waitFor(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await check().catch(() => false)) {
        return;
      }
      await sleep(100);
    }
    throw new Error('the Sentinel group did not settle');
  }
}
