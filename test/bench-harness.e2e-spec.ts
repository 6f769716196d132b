import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Latencies, runLoad } from '../bench/load/load';

/** The load benchmark's own measuring: percentiles it reports must not be rounded to whole milliseconds. */
describe('bench harness', () => {
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
    beforeAll(async () => {
      // Each answer waits a few ms, so latencies are a few ms and anything but whole numbers.
      server = createServer((_req, res) => setTimeout(() => res.end('{}'), 2));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    it('reports p50 and p99 of 2xx answers unrounded, from every answer', async () => {
      const result = await runLoad({ url, connections: 4, amount: 200, next: () => ({ method: 'GET', path: '/' }), title: 'harness test' });
      expect(result.requests).toBe(200);
      expect(result.p50).toBeGreaterThanOrEqual(2);
      expect(result.p99).toBeGreaterThanOrEqual(result.p50);
      // autocannon's own histogram would give whole milliseconds here.
      expect(Number.isInteger(result.p50) && Number.isInteger(result.p99)).toBe(false);
    });
  });
});
