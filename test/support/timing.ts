/**
 * Timed assertions on a shared, noisy machine.
 *
 * A test here never checks how fast something is — that is what `bench/` is for. It may check that something is
 * *bounded*: that a call guarded by a 100 ms timeout does not wait out a 3 s delay the test injected, or that a probe
 * answers instead of hanging on a frozen database. Such a test makes the outcome it rules out (the injected delay,
 * the hang) several times larger than the bound it checks, and adds `SLACK_MS` to that bound for a machine that was
 * busy at the wrong moment. Raise `TEST_TIMING_SLACK_MS` on a slower machine rather than editing the tests.
 */
export const SLACK_MS = Number(process.env.TEST_TIMING_SLACK_MS ?? 1_000);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it holds; fails after `ms` plus the slack. Returns how long it took. The wait is a bound on a
 * hang, not a latency target: a condition that never comes true still fails the test.
 */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 2_000): Promise<number> {
  const started = Date.now();
  const limit = ms + SLACK_MS;
  while (Date.now() - started < limit) {
    if (await check()) {
      return Date.now() - started;
    }
    await sleep(5);
  }
  throw new Error(`condition not met within ${limit} ms`);
}
