import { OwnRedis } from '../../test/support/redis-server';
import { buildCases, SystemId } from './cases';
import { payloads } from './payloads';
import { pinBenchmark } from './pinning';
import { createSystems } from './systems';

/**
 * Runs one case in a loop, for a CPU profile of just that path (compiled as `npm run bench:micro` compiles it):
 *   npx tsc -p bench/micro/tsconfig.json
 *   node --cpu-prof --cpu-prof-dir=.scratch/profiles dist-bench/bench/micro/profile.js <row> <payload> [system] [seconds]
 * e.g. `l1-hit 1KB ours 5`. Prints the op rate; open the .cpuprofile in Chrome DevTools or speedscope. Pinned as
 * `npm run bench:micro` pins by default (this process on one CPU, its redis-server on the other), so the profile
 * sees the same Redis round trips.
 */
async function main(): Promise<void> {
  const [row = 'l1-hit', label = '1KB', system = 'ours', seconds = '5'] = process.argv.slice(2);
  const redis = await OwnRedis.start();
  process.stderr.write(`Pinning: ${pinBenchmark(redis.pid).note}\n`);
  try {
    const systems = await createSystems(redis.url, redis.port);
    const payload = payloads().find((p) => p.label === label);
    const c =
      payload && buildCases(systems, payload).find((x) => x.row === row && x.system === (system as SystemId));
    if (!c) {
      throw new Error(`no case ${row} ${label} ${system}`);
    }
    await c.prepare();
    const until = performance.now() + Number(seconds) * 1_000;
    let ops = 0;
    while (performance.now() < until) {
      c.next?.();
      for (let i = 0; i < c.batch; i++) {
        await c.op();
      }
      ops += c.batch;
    }
    process.stdout.write(
      `${row} ${label} ${system}: ${ops} ops in ${seconds} s = ${((Number(seconds) * 1e6) / ops).toFixed(2)} µs/op\n`,
    );
    await systems.close();
  } finally {
    await redis.stop();
  }
}

void main();
