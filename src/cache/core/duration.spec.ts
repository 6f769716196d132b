import { toMs } from './duration';

describe('toMs', () => {
  it.each([
    [250, 250],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1.5s', 1_500],
  ] as const)('%p is %p ms', (input, ms) => {
    expect(toMs(input)).toBe(ms);
  });

  it.each(['5 m', '5x', '-1s', ''])('refuses %p', (input) => {
    expect(() => toMs(input as never)).toThrow(/Invalid duration/);
  });

  it('refuses negative and non-finite numbers', () => {
    expect(() => toMs(-1)).toThrow();
    expect(() => toMs(Number.NaN)).toThrow();
  });
});
