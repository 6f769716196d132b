import { createHash, randomBytes } from 'node:crypto';
import { Envelope, HeaderMemo } from './envelope';

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

  it('writes the header and the payload as one buffer, multi-byte text included, hashing the payload bytes', () => {
    const value = { name: 'Zoë 龍 🐉', text: 'é'.repeat(300) };
    const env = Envelope.create('k', value, times, [['tag:ünï', 2]]);
    const newline = env.bytes.indexOf(0x0a);
    expect(newline).toBe(env.bytes.length - env.payload.length - 1);
    expect(JSON.parse(env.bytes.toString('utf8', 0, newline))).toEqual(env.header);
    expect(env.payload.toString('utf8')).toBe(JSON.stringify(value));
    expect(env.header.h).toBe(createHash('sha1').update(env.payload).digest('base64url').slice(0, 22));
    expect(Envelope.decode('k', Buffer.from(env.bytes))!.value).toEqual(value);
  });

  it('freezes a value given to it once it is shared, not before', () => {
    const mine = { list: [1] };
    const env = Envelope.create('k', mine, times, []);
    // Kept by nobody yet (a set on an instance without L1): the caller's object stays the caller's.
    expect(Object.isFrozen(mine)).toBe(false);
    env.share();
    expect(Object.isFrozen(mine)).toBe(true);
    expect(Object.isFrozen(mine.list)).toBe(true);

    const handedOut = { list: [2] };
    expect(Envelope.create('k', handedOut, times, []).value).toBe(handedOut);
    expect(Object.isFrozen(handedOut.list)).toBe(true);
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

  it('owns exactly sized bytes once asked, copying only a slice of a larger buffer', () => {
    const created = Envelope.create('k', { small: true }, times, []);
    expect(created.bytes.buffer.byteLength).toBe(created.bytes.length);
    expect(created.expired(1_500).bytes.buffer.byteLength).toBe(created.expired(1_500).bytes.length);
    const before = created.bytes;
    created.own();
    expect(created.bytes).toBe(before);

    // As a Redis reply arrives: next to other replies in one buffer.
    const reply = Buffer.concat([Buffer.from('$9999\r\n'), created.bytes, Buffer.from('\r\n$3\r\nxyz\r\n')]);
    const read = Envelope.decode('k', reply.subarray(7, 7 + created.bytes.length))!;
    expect(read.bytes.buffer.byteLength).toBeGreaterThan(read.bytes.length);
    read.own();
    expect(read.bytes.buffer.byteLength).toBe(read.bytes.length);
    expect(read.bytes.equals(created.bytes)).toBe(true);
    expect(read.value).toEqual({ small: true });
  });

  describe('stored in Redis', () => {
    const page = { items: Array.from({ length: 12 }, (_, i) => ({ id: i, url: `https://cdn.example/images/${i}.png`, nsfw: false })) };

    it('stays plain below the threshold and without one', () => {
      const env = Envelope.create('k', page, times, []);
      expect(env.stored(null)).toBe(env.bytes);
      expect(env.stored(env.bytes.length + 1)).toBe(env.bytes);
      expect(Envelope.fromStored('k', env.stored(null))!.header).toEqual(env.header);
    });

    it('compresses from the threshold and reads back the very same envelope', () => {
      const env = Envelope.create('k', page, times, [['tag', 3]]);
      const stored = env.stored(env.bytes.length);
      expect(stored.subarray(0, 2)).toEqual(Buffer.from([0x00, 0x5a]));
      expect(stored.length).toBeLessThan(env.bytes.length / 2);
      const back = Envelope.fromStored('k', stored)!;
      expect(back.bytes.equals(env.bytes)).toBe(true);
      expect(back.header).toEqual(env.header);
      expect(back.value).toEqual(page);
      expect(back.isCompressed).toBe(true);
      expect(Envelope.fromStored('k', env.bytes)!.isCompressed).toBe(false);
    });

    it('keeps what would shrink by less than a tenth plain', () => {
      // A short envelope is mostly its header, whose content hash is random: DEFLATE saves a few bytes at most.
      const env = Envelope.create('k', randomBytes(8).toString('hex'), times, []);
      expect(env.stored(0)).toBe(env.bytes);
    });

    it('refuses a damaged compressed entry and one stored under another key', () => {
      const stored = Envelope.create('k', page, times, []).stored(0);
      expect(Envelope.fromStored('other', stored)).toBeNull();
      expect(Envelope.fromStored('k', Buffer.concat([stored.subarray(0, 2), Buffer.from('not deflate')]))).toBeNull();
      expect(Envelope.fromStored('k', stored.subarray(0, stored.length >> 1))).toBeNull();
    });
  });

  describe('with a HeaderMemo', () => {
    it('reuses the header (and its tag memo) of the very same bytes, and parses anything else', () => {
      const memo = new HeaderMemo();
      const env = Envelope.create('k', { n: 1 }, times, [['tag', 3]]);
      // Fresh copies each time, as Redis replies are.
      const first = Envelope.decode('k', Buffer.from(env.bytes), memo)!;
      const again = Envelope.decode('k', Buffer.from(env.bytes), memo)!;
      expect(again.header).toBe(first.header);
      expect(again.tagMemo).toBe(first.tagMemo);
      expect(again.value).toEqual({ n: 1 });

      // Same key, other header bytes (a later write): parsed anew.
      const later = Envelope.create('k', { n: 1 }, { ...times, freshUntil: 2_500 }, [['tag', 4]]);
      const changed = Envelope.decode('k', Buffer.from(later.bytes), memo)!;
      expect(changed.header).not.toBe(first.header);
      expect(changed.header).toEqual(later.header);
      expect(changed.tagMemo).not.toBe(first.tagMemo);
    });

    it('never lets bytes remembered for one key pass for another', () => {
      const memo = new HeaderMemo();
      const env = Envelope.create('k', 1, times, []);
      expect(Envelope.decode('k', Buffer.from(env.bytes), memo)).not.toBeNull();
      expect(Envelope.decode('other', Buffer.from(env.bytes), memo)).toBeNull();
    });

    it('keeps a copy of the header bytes, not the buffer they were read from', () => {
      const memo = new HeaderMemo();
      const env = Envelope.create('k', 1, times, []);
      const reply = Buffer.from(env.bytes);
      const first = Envelope.decode('k', reply, memo)!;
      reply.fill(0x20, 0, 10); // the socket buffer is reused for something else
      const again = Envelope.decode('k', Buffer.from(env.bytes), memo)!;
      expect(again.header).toBe(first.header);
    });
  });
});
