import { Histogram, Registry } from 'prom-client';
import { RequestHistogram } from './request-histogram';

describe('RequestHistogram', () => {
  const BOUNDS = [0.001, 0.01, 0.1, 1];
  const observations: [method: string, status: string, seconds: number][] = [
    ['GET', '200', 0.0004],
    ['GET', '200', 0.001], // on a bound: counted in that bound's bucket, as Prometheus' `le` says
    ['GET', '200', 0.05],
    ['get', '200', 0.2], // another raw name for the same labels
    ['POST', '201', 3],
    ['GET', '404', 0.002],
  ];

  it('exposes exactly what prom-client’s Histogram exposes for the same observations', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const histogram = new Histogram({
      name: 'req_seconds',
      help: 'h',
      labelNames: ['method', 'status'],
      buckets: BOUNDS,
      registers: [theirs],
    });
    const fast = new RequestHistogram('req_seconds', 'h', ['method', 'status'], BOUNDS, ours);
    let labelled = 0;
    for (const [method, status, seconds] of observations) {
      histogram.observe({ method: method.toUpperCase(), status }, seconds);
      fast.observe(
        `${method} ${status}`,
        () => (labelled++, { method: method.toUpperCase(), status }),
        seconds,
      );
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // Labels are worked out once per raw name, not per observation.
    expect(labelled).toBe(4);
  });

  it('starts over on reset', async () => {
    const registry = new Registry();
    const fast = new RequestHistogram('req_seconds', 'h', ['method'], BOUNDS, registry);
    fast.observe('GET', () => ({ method: 'GET' }), 0.5);
    expect(await registry.metrics()).toContain('req_seconds_count{method="GET"} 1');
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('req_seconds_count');
  });
});
