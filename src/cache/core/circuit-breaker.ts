export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** consecutive failures that open the breaker */
  failureThreshold: number;
  /** how long it stays open before one probe is let through */
  openMs: number;
}

/**
 * Skips Redis while it is failing. Closed: every call goes through. After `failureThreshold` consecutive
 * failures it opens: calls are refused at once (no waiting on timeouts). After `openMs` it lets exactly one
 * probe through (half-open): success closes it, failure opens it again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private current: BreakerState = 'closed';
  private probing = false;

  constructor(
    private readonly options: BreakerOptions,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go to Redis now. A true answer in half-open state reserves the single probe. */
  allow(): boolean {
    if (this.current === 'closed') {
      return true;
    }
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.openMs) {
      this.transition('half-open');
    }
    if (this.current === 'half-open' && !this.probing) {
      this.probing = true;
      return true;
    }
    return false;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') {
      this.transition('closed');
    }
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.options.failureThreshold)) {
      this.openedAt = this.now();
      this.transition('open');
    }
  }

  private transition(state: BreakerState): void {
    this.current = state;
    this.onChange(state);
  }
}
