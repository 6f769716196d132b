import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let now = 0;
  const breaker = () => new CircuitBreaker({ failureThreshold: 3, openMs: 1_000 }, undefined, () => now);

  beforeEach(() => {
    now = 0;
  });

  it('opens after the threshold of consecutive failures and refuses calls while open', () => {
    const b = breaker();
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
  });

  it('lets exactly one probe through after the open period; its result decides', () => {
    const b = breaker();
    [1, 2, 3].forEach(() => b.failure());
    now = 1_000;
    expect(b.allow()).toBe(true);
    expect(b.state).toBe('half-open');
    expect(b.allow()).toBe(false);
    b.failure();
    expect(b.state).toBe('open');
    now = 2_000;
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
  });
});
