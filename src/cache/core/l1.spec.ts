import { Envelope } from './envelope';
import { L1Store } from './l1';

const times = () => ({ createdAt: Date.now(), freshUntil: Date.now() + 60_000, staleUntil: Date.now() + 120_000 });

/** An envelope as read from Redis: bytes only, value not parsed yet. */
function fromRedis(key: string, value: unknown): Envelope {
  return Envelope.decode(key, Envelope.create(key, value, times(), []).bytes)!;
}

describe('L1Store', () => {
  it('freezes a value it keeps, so the caller that stored it cannot change what later readers get', () => {
    const value = { nested: { n: 1 } };
    const l1 = new L1Store(1_000_000);
    l1.set('k', Envelope.create('k', value, times(), []), Date.now());
    expect(Object.isFrozen(value.nested)).toBe(true);

    const off = { nested: { n: 1 } };
    new L1Store(0).set('k', Envelope.create('k', off, times(), []), Date.now());
    expect(Object.isFrozen(off)).toBe(false);
  });

  it('weighs an entry again once its value has been parsed', () => {
    const l1 = new L1Store(10_000_000);
    const env = fromRedis('k', { text: 'x'.repeat(5_000) });
    l1.set('k', env, Date.now());
    const unparsed = l1.bytes;
    expect(unparsed).toBeGreaterThan(env.bytes.length);

    expect(l1.get('k')!.value).toEqual({ text: 'x'.repeat(5_000) });
    expect(l1.bytes).toBe(unparsed);
    // The next read sees the parsed value and counts it.
    l1.get('k');
    expect(l1.bytes).toBe(unparsed + env.bytes.length);
  });

  it('stays within its budget when parsed values make entries heavier', () => {
    const l1 = new L1Store(50_000);
    for (let i = 0; i < 20; i++) {
      l1.set(`k${i}`, fromRedis(`k${i}`, { text: 'y'.repeat(2_000) }), Date.now());
    }
    for (let i = 0; i < 20; i++) {
      void l1.get(`k${i}`)?.value;
      l1.get(`k${i}`);
    }
    expect(l1.bytes).toBeLessThanOrEqual(50_000);
    // Parsed entries weigh about twice as much: fewer of them fit.
    expect(l1.size).toBeLessThan(20);
    expect(l1.size).toBeGreaterThan(5);
  });

  it('counts an entry created from a value (already parsed) at its full weight', () => {
    const l1 = new L1Store(10_000_000);
    const env = Envelope.create('k', { text: 'z'.repeat(3_000) }, times(), []);
    l1.set('k', env, Date.now());
    expect(l1.bytes).toBeGreaterThanOrEqual(env.bytes.length * 2);
  });
});
