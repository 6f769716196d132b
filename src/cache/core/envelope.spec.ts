import { Envelope } from './envelope';

const times = { createdAt: 1_000, freshUntil: 2_000, staleUntil: 3_000 };

describe('Envelope', () => {
  it('round-trips through bytes, keeping the payload exactly as serialized', () => {
    const env = Envelope.create('k', { a: 1, b: ['x'] }, times, [['tag', 3]]);
    const back = Envelope.decode('k', env.bytes)!;
    expect(back.header).toEqual(env.header);
    expect(back.payload.toString()).toBe('{"a":1,"b":["x"]}');
    expect(back.value).toEqual({ a: 1, b: ['x'] });
  });

  it('gives equal values the same content hash and different values different ones', () => {
    const a = Envelope.create('k1', { n: 1 }, times, []);
    const b = Envelope.create('k2', { n: 1 }, times, []);
    const c = Envelope.create('k1', { n: 2 }, times, []);
    expect(a.header.h).toBe(b.header.h);
    expect(a.header.h).not.toBe(c.header.h);
  });

  it('refuses bytes stored under another key (collision guard) and garbage', () => {
    const env = Envelope.create('k', 1, times, []);
    expect(Envelope.decode('other', env.bytes)).toBeNull();
    expect(Envelope.decode('k', Buffer.from('not an envelope'))).toBeNull();
    expect(Envelope.decode('k', Buffer.from('{"v":999,"k":"k"}\n1'))).toBeNull();
  });

  it('hands out a frozen value, so one caller cannot change what the next one gets', () => {
    const env = Envelope.decode('k', Envelope.create('k', { list: [1] }, times, []).bytes)!;
    const value = env.value as { list: number[] };
    expect(() => value.list.push(2)).toThrow(TypeError);
    expect(env.value).toBe(value);
  });

  it('expires a copy without touching the original', () => {
    const env = Envelope.create('k', 1, times, []);
    const expired = env.expired(1_500);
    expect(expired.header.f).toBe(1_500);
    expect(env.header.f).toBe(2_000);
    expect(expired.header.s).toBe(3_000);
  });
});
