import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Latencies, Planned, runLoad } from '../bench/load/load';
import { describeServed, parseExposition, servedBetween } from '../bench/load/served';
import { benchNode, highestOfMajor, nodeChoice, shippedNodeMajor, shippedNodeVersion } from './support/shipped-node';

/** The load benchmark's own measuring: percentiles it reports must not be rounded to whole milliseconds. */
describe('bench harness', () => {
  describe('runtime: the benchmarks run on the Node the Dockerfile ships', () => {
    it('reads the one Node major of every FROM node:<major> stage, and refuses none or two', () => {
      expect(shippedNodeMajor('FROM node:22-bookworm-slim AS build\nRUN npm ci\nFROM node:22-bookworm-slim AS runtime\n')).toBe(22);
      expect(shippedNodeMajor('from --platform=linux/amd64 node:24.11-alpine\n')).toBe(24);
      expect(shippedNodeMajor('  FROM docker.io/library/node:22.23.3-bookworm-slim AS build\n')).toBe(22);
      expect(() => shippedNodeMajor('FROM node:22 AS build\nFROM node:24 AS runtime\n')).toThrow(/22, 24/);
      expect(() => shippedNodeMajor('FROM debian:bookworm\n')).toThrow(/found none/);
      // The project's own Dockerfile names exactly one.
      expect(shippedNodeMajor(readFileSync('Dockerfile', 'utf8'))).toBeGreaterThanOrEqual(20);
    });

    it('reads the release the stages pin, none for a floating tag, and refuses stages that pin two', () => {
      expect(shippedNodeVersion('FROM node:24.21.0-bookworm-slim AS build\nFROM node:24.21.0-bookworm-slim AS runtime\n')).toBe('24.21.0');
      expect(shippedNodeVersion('  FROM docker.io/library/node:22.23.3 AS build\n')).toBe('22.23.3');
      expect(shippedNodeVersion('FROM node:24-bookworm-slim AS build\nFROM node:24-bookworm-slim AS runtime\n')).toBeUndefined();
      expect(shippedNodeVersion('FROM node:24.11-alpine\n')).toBeUndefined();
      expect(() => shippedNodeVersion('FROM node:24.21.0 AS build\nFROM node:24.20.0 AS runtime\n')).toThrow(/24\.21\.0, 24\.20\.0/);
      expect(() => shippedNodeVersion('FROM node:24.21.0 AS build\nFROM node:24 AS runtime\n')).toThrow(/same release/);
      // The project's own Dockerfile pins one: CI tests the runtime the image ships.
      expect(shippedNodeVersion(readFileSync('Dockerfile', 'utf8'))).toMatch(/^\d+\.\d+\.\d+$/);
    });

    it('picks the highest release of the major by number, not by text, and nothing else', () => {
      expect(highestOfMajor(['22.9.0', '22.23.3', '22.10.1', '24.9.0', '22.30.0-rc.1'], 22)).toBe('22.23.3');
      expect(highestOfMajor(['24.9.0'], 22)).toBeUndefined();
    });

    it("runs on this machine's Node when it is the shipped major, or when asked to, and fetches nothing", () => {
      const root = mkdtempSync(join(tmpdir(), 'bench-runtime-'));
      try {
        writeFileSync(join(root, 'Dockerfile'), `FROM node:${process.versions.node.split('.')[0]}-bookworm-slim\n`);
        const logged: string[] = [];
        const shipped = benchNode('shipped', root, (line) => logged.push(line));
        expect(shipped).toMatchObject({ path: process.execPath, version: process.version });
        expect(shipped.note).toMatch(/the Dockerfile's node:\d+/);
        expect(benchNode('system', root, (line) => logged.push(line))).toMatchObject({ path: process.execPath, version: process.version });
        expect(logged).toEqual([]);
        expect(existsSync(join(root, '.cache'))).toBe(false);
        expect(() => nodeChoice('latest')).toThrow(/--node must be one of shipped, system, not latest/);
        // Pinned to this very release: this machine's as well.
        writeFileSync(join(root, 'Dockerfile'), `FROM node:${process.versions.node}-bookworm-slim\n`);
        const exact = benchNode('shipped', root, (line) => logged.push(line));
        expect(exact).toMatchObject({ path: process.execPath, version: process.version });
        expect(exact.note).toContain(`the Dockerfile's node:${process.versions.node}`);
        expect(logged).toEqual([]);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  it('Latencies gives nearest-rank quantiles, and keeps growing past its first buffer', () => {
    const l = new Latencies();
    expect(l.quantile(0.99)).toBe(0);
    // 1..100 000 in a scrambled order: more than the 65 536 it starts with.
    for (let i = 0; i < 100_000; i++) {
      l.add(((i * 7_919) % 100_000) + 1);
    }
    expect([l.quantile(0.5), l.quantile(0.99), l.quantile(1)]).toEqual([50_000, 99_000, 100_000]);
  });

  describe('runLoad', () => {
    let server: Server;
    let url: string;
    /** Paths the server was asked for, in order of arrival. */
    let seen: string[];
    beforeAll(async () => {
      // Each answer waits a few ms, so latencies are a few ms and anything but whole numbers. It echoes the path,
      // and says MISS for /miss and HIT-L1 for anything else, as our service's X-Cache does.
      server = createServer((req, res) => {
        seen.push(req.url!);
        setTimeout(() => res.writeHead(200, { 'X-Cache': req.url === '/miss' ? 'MISS' : 'HIT-L1' }).end(JSON.stringify({ path: req.url })), 2);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    beforeEach(() => (seen = []));
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    it('reports p50 and p99 of 2xx answers unrounded, from every answer', async () => {
      const result = await runLoad({ url, connections: 4, amount: 200, workload: { next: () => ({ method: 'GET', path: '/' }) }, title: 'harness test' });
      expect(result.requests).toBe(200);
      expect(result.p50).toBeGreaterThanOrEqual(2);
      expect(result.p99).toBeGreaterThanOrEqual(result.p50);
      // autocannon's own histogram would give whole milliseconds here.
      expect(Number.isInteger(result.p50) && Number.isInteger(result.p99)).toBe(false);
    });

    it('sends a sequence with an amount in order, each plan once, and hands each answer to its own plan', async () => {
      const answers = new Map<string, string>();
      const sequence: Planned[] = Array.from({ length: 40 }, (_, i) => ({
        method: 'GET',
        path: i % 10 === 0 ? '/miss' : `/p/${i}`,
        check: (status, body, xCache) => answers.set(`/p/${i}`, `${status} ${JSON.parse(body).path} ${xCache}`),
      }));
      const result = await runLoad({ url, connections: 1, amount: 40, workload: { sequence }, title: 'harness test' });
      expect(seen).toEqual(sequence.map((p) => p.path));
      expect(answers.get('/p/7')).toBe('200 /p/7 HIT-L1');
      expect(answers.get('/p/10')).toBe('200 /miss MISS');
      expect([result.hits, result.misses, result.statuses]).toEqual([36, 4, { 200: 40 }]);
    });

    it('runs a sequence for a duration with each connection cycling its own share, every plan sent and checked', async () => {
      const checked = new Map<string, number>();
      const sequence: Planned[] = Array.from({ length: 30 }, (_, i) => ({
        method: 'GET',
        path: i === 0 ? '/miss' : `/p/${i}`,
        check: (status, body) => {
          const path = (JSON.parse(body) as { path: string }).path;
          expect([status, path]).toEqual([200, i === 0 ? '/miss' : `/p/${i}`]);
          checked.set(path, (checked.get(path) ?? 0) + 1);
        },
      }));
      const result = await runLoad({ url, connections: 4, durationS: 1, workload: { sequence }, title: 'harness test' });
      // 4 connections, each cycling 64 plans from its own offset (wrapping around): every plan is in some share.
      expect(new Set(seen)).toEqual(new Set(sequence.map((p) => p.path)));
      expect(checked.size).toBe(30);
      const answered = [...checked.values()].reduce((a, b) => a + b, 0);
      expect(answered).toBe(result.requests);
      expect(result.hits + result.misses).toBe(result.requests);
      expect(result.misses).toBe(checked.get('/miss'));
      expect(result.statuses).toEqual({ 200: result.requests });
    });
  });

  it('servedBetween: replays, GC, event-loop delay and per-route means between two scrapes of /metrics', () => {
    const before = parseExposition(
      [
        '# HELP http_replays_total Anonymous GETs',
        'http_replays_total{result="replayed"} 10',
        'http_replays_total{result="passed"} 2',
        'nodejs_gc_duration_seconds_sum{kind="minor"} 1.5',
        'nodejs_gc_duration_seconds_sum{kind="major"} 0.5',
        'http_request_duration_seconds_count{method="GET",route="/characters",status="200",cache="hit-l1"} 100',
        'http_request_duration_seconds_sum{method="GET",route="/characters",status="200",cache="hit-l1"} 0.1',
        'http_request_duration_seconds_count{method="PATCH",route="/characters/:id",status="200",cache="none"} 5',
        'http_request_duration_seconds_sum{method="PATCH",route="/characters/:id",status="200",cache="none"} 0.5',
      ].join('\n'),
    );
    const after = parseExposition(
      [
        'http_replays_total{result="replayed"} 110',
        'http_replays_total{result="passed"} 7',
        'nodejs_gc_duration_seconds_sum{kind="minor"} 2',
        'nodejs_gc_duration_seconds_sum{kind="major"} 1',
        'nodejs_eventloop_lag_mean_seconds 0.004',
        'nodejs_eventloop_lag_p99_seconds 0.02',
        'http_request_duration_seconds_count{method="GET",route="/characters",status="200",cache="hit-l1"} 300',
        'http_request_duration_seconds_sum{method="GET",route="/characters",status="200",cache="hit-l1"} 0.3',
        'http_request_duration_seconds_count{method="GET",route="/characters",status="304",cache="hit-l1"} 100',
        'http_request_duration_seconds_sum{method="GET",route="/characters",status="304",cache="hit-l1"} 0.05',
        'http_request_duration_seconds_count{method="PATCH",route="/characters/:id",status="200",cache="none"} 5',
        'http_request_duration_seconds_sum{method="PATCH",route="/characters/:id",status="200",cache="none"} 0.5',
      ].join('\n'),
    );
    const served = servedBetween(before, after, 10);
    expect(served).toMatchObject({ seconds: 10, replayed: 100, passed: 5, gcSeconds: 1, loopDelayMeanMs: 4, loopDelayP99Ms: 20 });
    // Statuses of one route and outcome together; a series with no new answers left out.
    expect(Object.keys(served.routes)).toEqual(['GET /characters hit-l1']);
    expect(served.routes['GET /characters hit-l1'].count).toBe(300);
    expect(served.routes['GET /characters hit-l1'].meanMs).toBeCloseTo(0.8333, 3);
    expect(describeServed(served)).toContain('replayed 100, passed 5, GC 10.0 % of the run');
  });
});
