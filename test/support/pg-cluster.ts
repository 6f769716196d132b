import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server';

const run = promisify(execFile);
const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL cluster of the suite's own: `initdb` in a temporary directory, listening on 127.0.0.1 on a free
 * port, so a suite may stop, restart or freeze it. It is controlled through its own `pg_ctl -D <dir>` and PIDs —
 * never by name, and the machine's cluster (5432) is never touched. initdb refuses to run as root, so as root
 * the cluster belongs to the `postgres` system user.
 */
export class OwnPostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'cards-pg-'));
    const cluster = new OwnPostgres(await freePort(), dir);
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await cluster.as(`${BIN}/initdb`, [
      '-D',
      cluster.dataDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    await cluster.startServer();
    return cluster;
  }

  /** Admin URL of the cluster (trust authentication, user postgres). */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** `pg_ctl start`, waiting until it accepts connections. */
  async startServer(): Promise<void> {
    const options = `-c listen_addresses=127.0.0.1 -p ${this.port} -k ${this.dir} -c fsync=off -c max_connections=40`;
    await this.as(`${BIN}/pg_ctl`, [
      'start',
      '-D',
      this.dataDir,
      '-w',
      '-t',
      '30',
      '-l',
      join(this.dir, 'server.log'),
      '-o',
      options,
    ]);
  }

  /** `pg_ctl stop -m fast`: sessions are terminated, the server is gone when this returns. */
  async stopServer(): Promise<void> {
    await this.as(`${BIN}/pg_ctl`, ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '30']);
  }

  /** SIGSTOP to the postmaster and its children: sockets stay open, nothing answers. */
  async freeze(): Promise<void> {
    for (const pid of await this.pids()) {
      process.kill(pid, 'SIGSTOP');
    }
  }

  async thaw(): Promise<void> {
    for (const pid of await this.pids()) {
      process.kill(pid, 'SIGCONT');
    }
  }

  /** Stops the server (whatever state it is in) and removes its directory. */
  async destroy(): Promise<void> {
    try {
      await this.thaw();
      await this.as(`${BIN}/pg_ctl`, ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30']);
    } catch (error) {
      // Already stopped: `pg_ctl stop` fails when there is no server, which is what we want anyway.
      if (
        !/no server running|PID file .* does not exist/i.test(
          String((error as { stderr?: string }).stderr ?? error),
        )
      ) {
        throw error;
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The postmaster (first line of postmaster.pid) and its children. */
  private async pids(): Promise<number[]> {
    let postmaster: number;
    try {
      postmaster = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      // No PID file: the server is not running, so there is nothing to signal.
      return [];
    }
    const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(postmaster)]).catch(() => ({
      stdout: '',
    }));
    return [
      postmaster,
      ...stdout
        .split('\n')
        .map((line) => Number(line.trim()))
        .filter((pid) => pid > 0),
    ];
  }

  private async as(command: string, args: string[]): Promise<void> {
    if (process.getuid?.() === 0) {
      await run('runuser', ['-u', 'postgres', '--', command, ...args], { cwd: this.dir });
    } else {
      await run(command, args, { cwd: this.dir });
    }
  }
}
