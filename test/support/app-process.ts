import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '../..');

export interface LogLine {
  msg?: string;
  context?: string;
  reqId?: string;
  req?: { url?: string };
  [key: string]: unknown;
}

/**
 * `npm run build`, once per test run (CARDS_TEST_RUN, from global-setup): the suites that start the built app share
 * one build, so none rebuilds dist/ (the build empties it first) under another suite's running app. Suites in
 * parallel workers take turns through a lock directory.
 */
export async function built(): Promise<void> {
  const cache = join(ROOT, '.cache');
  const marker = join(cache, `built-${process.env.CARDS_TEST_RUN ?? `pid-${process.pid}`}`);
  const lock = join(cache, 'build.lock');
  mkdirSync(cache, { recursive: true });
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) {
        throw error;
      }
      // A lock left by a run that was killed mid-build: a build takes well under 10 minutes.
      if (Date.now() - statSync(lock).mtimeMs > 600_000) {
        rmSync(lock, { recursive: true, force: true });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!existsSync(marker)) {
      await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT, timeout: 180_000 });
      for (const old of readdirSync(cache).filter((name) => name.startsWith('built-'))) {
        rmSync(join(cache, old), { force: true });
      }
      writeFileSync(marker, '');
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The built app (`node dist/main.js`) as a child process, its JSON log lines collected as they come. */
export class AppProcess {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];
  /** Lines on stdout a log pipeline could not parse. */
  readonly notJson: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(env: Record<string, string>) {
    // As the image runs it: a package it does not ship (a dev dependency) cannot be loaded.
    this.child = spawn(process.execPath, ['--require', './test/support/production-modules.js', 'dist/main.js'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const complete = pending.split('\n');
      pending = complete.pop()!;
      for (const line of complete.filter(Boolean)) {
        this.raw.push(line);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.notJson.push(line);
        }
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => this.raw.push(`stderr: ${chunk.toString('utf8')}`));
    this.exited = new Promise((resolvePromise) =>
      this.child.once('exit', (code, signal) => resolvePromise({ code, signal })),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  index(message: RegExp): number {
    return this.lines.findIndex((line) => message.test(line.msg ?? ''));
  }
}

/** What every suite's app starts with: development, on 127.0.0.1:`port`, info logs; `env` adds and overrides. */
export function appEnv(port: number, env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    DB_MIGRATE: 'false',
    LOG_LEVEL: 'info',
    STORAGE_LOCAL_DIR: `/tmp/cards-test-uploads/app-process-${process.pid}`,
    ...env,
  };
}

/** Until the app answers GET `path` on `port` with 200; fails at once, with its output, if it exits first. */
export async function untilAnswering(app: AppProcess, port: number, path: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!app.running) {
      throw new Error(`the app exited while booting:\n${app.raw.join('\n')}`);
    }
    if ((await fetch(`http://127.0.0.1:${port}${path}`).catch(() => null))?.status === 200) {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the app did not answer ${path} with 200 within ${ms} ms:\n${app.raw.join('\n')}`);
}
