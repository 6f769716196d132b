import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppProcess, appEnv, built, untilAnswering } from '../support/app-process';
import { freePort, OwnRedis, scanKeys } from '../support/redis-server';
import { createSuiteDatabase } from '../support/test-app';
import { eventually } from './support';

const PASSWORD = 'tls-suite-password-41c9';

/** A CA, and a certificate for 127.0.0.1 signed by it, made with openssl for this suite only. */
function certificates(dir: string): { ca: string; cert: string; key: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=cards-test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.cnf');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

/**
 * REDIS_URL=rediss://… against a redis-server that speaks TLS only on that port, with the built app as it runs in
 * production (a child process: the CA a private Redis is signed with reaches Node through NODE_EXTRA_CA_CERTS,
 * which is read once, at process start).
 */
describe('Redis over TLS (rediss://)', () => {
  jest.setTimeout(240_000);
  let dir: string;
  let redis: OwnRedis;
  let tlsPort: number;
  let ca: string;
  let databaseUrl: string;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    await built();
    dir = mkdtempSync(join(tmpdir(), 'redis-tls-'));
    const files = certificates(dir);
    ca = files.ca;
    tlsPort = await freePort();
    // The plain port is the suite's own way in (readiness, looking at keys); the app only knows the TLS one.
    redis = await OwnRedis.start([
      '--tls-port', String(tlsPort),
      '--tls-cert-file', files.cert,
      '--tls-key-file', files.key,
      '--tls-ca-cert-file', files.ca,
      '--tls-auth-clients', 'no',
    ]);
    databaseUrl = await createSuiteDatabase();
    const plain = redis.client();
    try {
      await plain.call('ACL', 'SETUSER', 'cards', 'on', `>${PASSWORD}`, '~*', '&*', '+@all');
    } finally {
      plain.disconnect();
    }
  });
  afterAll(async () => {
    for (const app of apps) {
      app.signal('SIGKILL');
      await app.exited;
    }
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string>): Promise<{ app: AppProcess; base: string }> {
    const port = await freePort();
    const app = new AppProcess(
      appEnv(port, { DATABASE_URL: databaseUrl, REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, LOG_REQUESTS: 'false', ...env }),
    );
    apps.push(app);
    await untilAnswering(app, port, '/health/live');
    return { app, base: `http://127.0.0.1:${port}` };
  }

  it('with the CA trusted and ACL credentials in the URL: the cache reads and writes through TLS, as that user', async () => {
    const { app, base } = await start({
      NODE_EXTRA_CA_CERTS: ca,
      CACHE_PREFIX: 'tls-trusted',
      REDIS_URL: `rediss://cards:${PASSWORD}@127.0.0.1:${tlsPort}`,
    });
    await eventually(async () => ((await (await fetch(`${base}/health/ready`)).json()) as { details?: { cache?: { redis?: string } } }).details?.cache?.redis === 'up', 10_000);
    const first = await fetch(`${base}/characters?limit=5`);
    expect(first.status).toBe(200);
    const second = await fetch(`${base}/characters?limit=5`);
    expect(second.status).toBe(200);
    expect(second.headers.get('x-cache')).toMatch(/^HIT/);
    // The entry is in this redis-server, which the app reached on its TLS port only.
    const plain = redis.client();
    try {
      expect((await scanKeys(plain, 'tls-trusted:*')).length).toBeGreaterThan(0);
      const clients = String(await plain.call('CLIENT', 'LIST'));
      expect(clients).toMatch(/ user=cards /);
    } finally {
      plain.disconnect();
    }
    expect(app.raw.join('\n')).not.toContain(PASSWORD);
  });

  it('with a certificate it cannot verify: no connection, and the service still answers, reporting Redis down', async () => {
    const { app, base } = await start({ CACHE_PREFIX: 'tls-untrusted' });
    const res = await fetch(`${base}/characters?limit=5`);
    expect(res.status).toBe(200);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { details: { cache: { redis: string } } }).details.cache.redis).toBe('down');
    // Said in the logs, with the reason.
    await eventually(() => app.raw.some((line) => /certificate/i.test(line)), 10_000);
    const plain = redis.client();
    try {
      expect(await scanKeys(plain, 'tls-untrusted:*')).toEqual([]);
    } finally {
      plain.disconnect();
    }
  });
});
