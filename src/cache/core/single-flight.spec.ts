import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SLACK_MS } from '../../../test/support/timing';
import { SharedTimeout, TIMED_OUT } from './single-flight';

const never = () => new Promise<never>(() => undefined);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SharedTimeout', () => {
  it('hands on what the promise settles with when it settles in time, value or error', async () => {
    const timeout = new SharedTimeout(1_000);
    await expect(timeout.within(Promise.resolve('answer'))).resolves.toBe('answer');
    await expect(timeout.within(Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(timeout.pending).toBe(0);
  });

  it('times each promise out at its own deadline, never before, and ignores an answer that comes later', async () => {
    const ms = 60;
    const timeout = new SharedTimeout(ms);
    const started: number[] = [];
    const ended: (number | null)[] = [];
    let answerLate!: (value: string) => void;
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      started.push(performance.now());
      const promise = i === 1 ? new Promise<string>((resolve) => (answerLate = resolve)) : never();
      runs.push(
        timeout.within(promise).then((result) => {
          ended[i] = result === TIMED_OUT ? performance.now() : null;
          return result;
        }),
      );
      await sleep(20);
    }
    // One more that answers in time, between deadlines: it must not hold up or cut short the others.
    await expect(timeout.within(sleep(10).then(() => 'in time'))).resolves.toBe('in time');
    expect(await Promise.all(runs)).toEqual([TIMED_OUT, TIMED_OUT, TIMED_OUT]);
    answerLate('too late');
    await sleep(0);
    for (let i = 0; i < 3; i++) {
      expect(ended[i]).not.toBeNull();
      // A timer may fire a little early by its clock (~1 ms): never a whole step early.
      expect(ended[i]! - started[i]).toBeGreaterThanOrEqual(ms - 2);
      expect(ended[i]! - started[i]).toBeLessThan(ms + SLACK_MS);
    }
    expect(timeout.pending).toBe(0);
  });

  it('keeps one timer however many promises it bounds, and drops the settled ones', async () => {
    const timeout = new SharedTimeout(50);
    const spy = jest.spyOn(global, 'setTimeout');
    try {
      await Promise.all(Array.from({ length: 5_000 }, (_, i) => timeout.within(Promise.resolve(i))));
      const hanging = timeout.within(never());
      expect(timeout.pending).toBe(1);
      // Armed once, by the first promise: the rest only join the queue.
      expect(spy.mock.calls.filter(([, delay]) => delay === 50)).toHaveLength(1);
      await expect(hanging).resolves.toBe(TIMED_OUT);
      expect(timeout.pending).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps nothing a settled promise gave alive until its deadline', async () => {
    // A Redis reply held for the whole command timeout is promoted to the old generation: full GCs on a busy server.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const timeout = new SharedTimeout(60_000);
    const answer = async () => {
      const reply = { bytes: Buffer.alloc(16_384) };
      await timeout.within(Promise.resolve(reply));
      return new WeakRef(reply);
    };
    const reply = await answer();
    // A WeakRef keeps its target until the current job ends.
    await sleep(0);
    gc();
    expect(reply.deref()).toBeUndefined();
    expect(timeout.pending).toBe(0);
  });

  it('times out at once with no time at all', async () => {
    await expect(new SharedTimeout(0).within(never())).resolves.toBe(TIMED_OUT);
  });
});
