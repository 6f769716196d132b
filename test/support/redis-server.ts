import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

/** Whether a replica holds everything its master has: its link is up and its offset reached the master's. */
export async function replicaCaughtUp(master: Redis, replica: Redis): Promise<boolean> {
  const [ofMaster, ofReplica] = await Promise.all([master.info('replication'), replica.info('replication')]);
  const offset = (info: string, field: string) => Number(new RegExp(`${field}:(\\d+)`).exec(info)?.[1] ?? NaN);
  return (
    /master_link_status:up/.test(ofReplica) &&
    offset(ofReplica, 'slave_repl_offset') >= offset(ofMaster, 'master_repl_offset')
  );
}

/** A free TCP port on 127.0.0.1, picked by the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of the suite's own, on a free port, that the suite may kill, freeze or restart. It is stopped
 * by its PID — never by name, and the machine's shared Redis is never touched.
 */
export class OwnRedis {
  private process: ChildProcess | null = null;
  /**
   * Its working directory: a replica writes the data set it receives there (dump.rdb), and a server loads a
   * dump.rdb it finds there at start — in a shared directory one suite's data would appear in the next one's.
   */
  private dir: string | null = null;

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[],
  ) {}

  static async start(extraArgs: string[] = []): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), extraArgs);
    await redis.spawn();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  async spawn(): Promise<void> {
    this.dir ??= mkdtempSync(join(tmpdir(), 'own-redis-'));
    this.process = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extraArgs],
      { stdio: 'ignore' },
    );
    await this.waitUntilReady();
  }

  /** SIGKILL: the server vanishes, connections drop. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.process = null;
  }

  /** SIGSTOP: the server keeps its sockets open and answers nothing. */
  freeze(): void {
    this.process?.kill('SIGSTOP');
  }

  thaw(): void {
    this.process?.kill('SIGCONT');
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.spawn();
  }

  async stop(): Promise<void> {
    this.thaw();
    await this.kill();
    if (this.dir) {
      rmSync(this.dir, { recursive: true, force: true });
      this.dir = null;
    }
  }

  /** A plain client for assertions (what did Redis really store?). */
  client(): Redis {
    return new Redis(this.url, { maxRetriesPerRequest: 1 });
  }

  private waitUntilReady(): Promise<void> {
    return waitForRedis(this.port, () => this.process?.exitCode === null);
  }

}

/** Every key matching `pattern`, by SCAN to the end (a test may look around; the service never lists keys). */
export async function scanKeys(client: Redis, pattern = '*'): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Polls 127.0.0.1:port until Redis answers PING (10 s at most, and only while `alive()` holds). */
export async function waitForRedis(port: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && alive()) {
    if (await answersPing(port)) {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

/**
 * One PING over a plain socket, destroyed whatever happens. (An ioredis probe left a 2 s timer behind after a
 * refused connection — its `disconnect` waits for a 'close' the dead socket had already emitted — and Jest
 * then reported that it "did not exit one second after the test run".)
 */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) {
        // `-LOADING …` while it loads a dump: not ready yet.
        done(reply.startsWith('+PONG'));
      }
    });
  });
}
