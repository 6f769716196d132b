import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { freePort, OwnRedis } from '../../test/support/redis-server';
import { benchUrl } from './database';
import { PgCountProxy } from './pg-count-proxy';

export type SystemId = 'floor' | 'ceiling' | 'nocache' | 'peer' | 'ours-redis' | 'ours-l1';

export interface SystemSpec {
  id: SystemId;
  label: string;
  /** Has a Redis of its own (started per system, so its memory figure is its own). */
  redis: boolean;
  /** Takes the writes and viewer classes of the cards mix (ours and the uncached service). */
  full: boolean;
}

export const SYSTEMS: SystemSpec[] = [
  { id: 'floor', label: 'floor: Fastify alone, pre-serialized page', redis: false, full: false },
  { id: 'ceiling', label: 'ceiling: Nest + Fastify, constant page', redis: false, full: false },
  { id: 'nocache', label: 'no cache (this service, CACHE_ENABLED=false)', redis: false, full: true },
  { id: 'peer', label: 'peer: @nestjs/cache-manager + @keyv/redis', redis: true, full: false },
  { id: 'ours-redis', label: 'ours, Redis only (L1 off)', redis: true, full: true },
  { id: 'ours-l1', label: 'ours, L1 + Redis', redis: true, full: true },
];

/** Secrets of this run only: random, passed by environment, never written anywhere. */
/** The bearer token ours serves /metrics behind in a run (the harness scrapes it: see served.ts). */
export function metricsToken(secrets: RunSecrets): string {
  return `${secrets.jwtSecret}-metrics`;
}

export interface RunSecrets {
  jwtSecret: string;
}

export interface ServerOptions {
  /** CPU list for `taskset -c`, or null when the machine cannot pin. */
  cpus: string | null;
  secrets: RunSecrets;
  /** For the ceiling: the file of pages it serves. */
  ceilingPages?: string;
  /** Write a V8 CPU profile of the server here when it exits (`--profile <system>`). */
  profileDir?: string;
}

/** The node flags of `npm run start:prod` (e.g. `--max-semi-space-size=32`). */
function deployedNodeFlags(): string[] {
  const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
  return scripts['start:prod'].split(' ').filter((part) => part.startsWith('--'));
}

/** USER_HZ: the unit of /proc/<pid>/stat times (100 on every Linux build in use). */
const CLOCK_TICKS = 100;

/** One running system under test: a child process on 127.0.0.1, and its own redis-server when it uses Redis. */
export class Server {
  private exitCode: number | null = null;
  private stderr = '';

  private constructor(
    readonly spec: SystemSpec,
    readonly port: number,
    readonly redis: OwnRedis | null,
    /** Its own way to PostgreSQL, which counts the statements it sends. */
    readonly db: PgCountProxy,
    private readonly child: ChildProcess,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4_000)));
    child.stdout?.resume();
    child.once('exit', (code) => (this.exitCode = code ?? -1));
  }

  /**
   * Every server process started and not yet stopped, those still starting included, and redis-servers started
   * for a server that has not spawned yet: what `stopEverything` stops when the run is interrupted. (A server
   * restarted mid-run is in no caller's map until it answers.)
   */
  private static readonly live = new Set<{ stop(): Promise<void> }>();

  /** Stops every server and redis-server this process started and has not stopped (Ctrl-C, a failed run). */
  static async stopEverything(): Promise<void> {
    await Promise.all([...Server.live].map((one) => one.stop().catch(() => undefined)));
  }

  static async start(spec: SystemSpec, options: ServerOptions, redis: OwnRedis | null = null): Promise<Server> {
    if (spec.redis && !redis) {
      redis = await OwnRedis.start(['--maxmemory', '512mb']);
    }
    // From here on the new server owns `redis`: its own, or the one a server stopped with `keepRedis` left it.
    const owned = redis;
    if (owned) {
      Server.live.add(owned);
    }
    let db: PgCountProxy | null = null;
    let server: Server;
    try {
      const target = new URL(benchUrl());
      db = await PgCountProxy.start(target.hostname, Number(target.port || 5432));
      // Picked last: a free port is only free until someone binds it, and Redis and the proxy above pick theirs too.
      const port = await freePort();
      const env = environment(spec, port, redis, db.port, options);
      const script =
        spec.id === 'floor' ? 'dist-bench/bench/peers/fastify-floor.js'
        : spec.id === 'ceiling' ? 'dist-bench/bench/peers/ceiling.js'
        : spec.id === 'peer' ? 'dist-bench/bench/peers/cache-manager-app.js'
        : 'dist/main.js';
      const node = [
        ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []),
        // Ours runs as it is deployed (package.json start:prod, the Dockerfile's CMD); the peer and the ceiling as
        // a NestJS user runs them, with Node's defaults.
        ...(script === 'dist/main.js' ? deployedNodeFlags() : []),
        script,
      ];
      const [command, args] = options.cpus
        ? ['taskset', ['-c', options.cpus, process.execPath, ...node]]
        : [process.execPath, node];
      const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      server = new Server(spec, port, redis, db, child);
    } catch (error) {
      await db?.stop();
      await owned?.stop();
      throw error;
    } finally {
      if (owned) {
        Server.live.delete(owned);
      }
    }
    Server.live.add(server);
    try {
      await server.waitUntilServing();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** CPU seconds the server process has used (user + system, from /proc; 0 where /proc is missing). */
  cpuSeconds(): number {
    try {
      // Fields 14 and 15 of /proc/<pid>/stat, counted after the parenthesised command name.
      const fields = readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      return 0;
    }
  }

  /**
   * The most resident memory the server process has held since `resetPeakRss` (VmHWM in /proc; bytes, 0 where
   * /proc is missing): what a container memory limit has to allow, not just where the run happened to end.
   */
  peakRssBytes(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = /VmHWM:\s+(\d+) kB/.exec(status);
      return kb ? Number(kb[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  /** Starts a new peak: writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+; ignored elsewhere). */
  resetPeakRss(): void {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      // No /proc, or not allowed: the peak then counts from the process start.
    }
  }

  async redisUsedMemory(): Promise<number | null> {
    if (!this.redis?.pid) {
      return null;
    }
    const client = this.redis.client();
    try {
      const info = await client.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
    } finally {
      client.disconnect();
    }
  }

  /** Where Redis memory goes: bytes (MEMORY USAGE) and keys by the first three segments of the key. */
  async redisBreakdown(): Promise<Record<string, { keys: number; bytes: number }>> {
    const out: Record<string, { keys: number; bytes: number }> = {};
    if (!this.redis?.pid) {
      return out;
    }
    const client = this.redis.client();
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
        cursor = next;
        const pipeline = client.pipeline();
        keys.forEach((key) => pipeline.memory('USAGE', key));
        const sizes = (await pipeline.exec()) ?? [];
        keys.forEach((key, i) => {
          const group = key.split(':').slice(0, 3).join(':');
          const entry = (out[group] ??= { keys: 0, bytes: 0 });
          entry.keys++;
          entry.bytes += Number(sizes[i]?.[1] ?? 0);
        });
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
    return out;
  }

  /**
   * Stops the server process, then its redis-server (unless `keepRedis`: a server restarted on the same Redis)
   * and its database proxy.
   */
  async stop({ keepRedis = false } = {}): Promise<void> {
    if (this.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (!keepRedis) {
      await this.redis?.stop();
    }
    await this.db.stop();
    Server.live.delete(this);
  }

  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + 60_000;
    const probe = this.spec.id === 'ceiling' || this.spec.id === 'floor' ? '/__ping' : this.spec.id === 'peer' ? '/characters/featured' : '/health/live';
    while (Date.now() < deadline) {
      if (this.exitCode !== null) {
        throw new Error(`${this.spec.id} exited with ${this.exitCode} while starting:\n${this.stderr}`);
      }
      const status = await get(`${this.url}${probe}`).catch(() => 0);
      if (status > 0) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${this.spec.id} did not answer within 60 s:\n${this.stderr}`);
  }
}

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function environment(spec: SystemSpec, port: number, redis: OwnRedis | null, dbPort: number, options: ServerOptions): NodeJS.ProcessEnv {
  const databaseUrl = new URL(benchUrl());
  databaseUrl.port = String(dbPort);
  // Only what the system needs: PATH for taskset, nothing of the caller's secrets or settings.
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    // For experiments only (`BENCH_NODE_OPTIONS=--max-semi-space-size=32 npm run bench`): every system gets it.
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl.toString(),
    DB_POOL_SIZE: '10',
    CDN_BASE_URL: 'https://cdn.bench.invalid',
    CDN_SIGNING_KEY: options.secrets.jwtSecret.split('').reverse().join(''),
  };
  if (spec.id === 'ceiling' || spec.id === 'floor') {
    return { ...base, CEILING_PAGES: options.ceilingPages };
  }
  if (spec.id === 'peer') {
    return { ...base, REDIS_URL: redis!.url };
  }
  return {
    ...base,
    JWT_SECRET: options.secrets.jwtSecret,
    BILLING_WEBHOOK_SECRET: `${options.secrets.jwtSecret}-billing`,
    GENERATOR_WEBHOOK_SECRET: `${options.secrets.jwtSecret}-generator`,
    // The peer and the ceiling log nothing per request; neither does ours here (LOG_REQUESTS is on by default).
    LOG_REQUESTS: 'false',
    LOG_LEVEL: 'warn',
    SERVE_LOCAL_CDN: 'false',
    HEALTH_SAMPLE_INTERVAL_MS: '60000',
    METRICS_TOKEN: metricsToken(options.secrets),
    SHUTDOWN_DRAIN_MS: '0',
    ...(spec.id === 'nocache' ? { CACHE_ENABLED: 'false' } : { REDIS_URL: redis!.url }),
    ...(spec.id === 'ours-redis' ? { CACHE_L1_MAX_BYTES: '0' } : {}),
  };
}
