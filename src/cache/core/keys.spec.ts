import fc from 'fast-check';
import { assertNamespace, assertNoNamespaceClash, buildKey, encodeKeyPart, leaseKey, MAX_KEY_LENGTH } from './keys';

// eslint-disable-next-line no-control-regex -- control characters are exactly what must never appear
const RAW_FORBIDDEN = /[:*?[\]\\\s\x00-\x1f\x7f]/u;

describe('cache keys', () => {
  it('never lets a Redis-significant character through raw', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (part) => {
        expect(encodeKeyPart(part)).not.toMatch(RAW_FORBIDDEN);
      }),
      { numRuns: 2_000 },
    );
  });

  it('maps distinct parts to distinct encodings', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }));
    fc.assert(
      fc.property(text, text, (a, b) => {
        fc.pre(a !== b);
        expect(encodeKeyPart(a)).not.toBe(encodeKeyPart(b));
      }),
      { numRuns: 2_000 },
    );
  });

  it('gives the empty part an encoding no other part has', () => {
    // Found by the property above with a rare seed: '' and '\u0000' were both '%00'.
    const parts = ['', '\u0000', '%', '%00', 'empty', '%empty', ' '];
    expect(new Set(parts.map((p) => encodeKeyPart(p))).size).toBe(parts.length);
  });

  it('maps distinct part lists to distinct keys, long ones included', () => {
    const parts = fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 120 }), fc.integer()), { maxLength: 5 });
    fc.assert(
      fc.property(parts, parts, (a, b) => {
        const same = a.length === b.length && a.every((p, i) => String(p) === String(b[i]));
        fc.pre(!same);
        expect(buildKey('app:c1', 'ns', a)).not.toBe(buildKey('app:c1', 'ns', b));
      }),
      { numRuns: 2_000 },
    );
  });

  it('keys a number as its decimal text, encoded where that text needs it', () => {
    expect(encodeKeyPart(12_345)).toBe('12345');
    expect(encodeKeyPart(-7)).toBe('-7');
    expect(encodeKeyPart(1.5)).toBe('1.5');
    expect(encodeKeyPart(1e21)).toBe('1e%2B21');
    expect(encodeKeyPart(12_345)).toBe(encodeKeyPart('12345'));
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        expect(encodeKeyPart(n)).not.toMatch(RAW_FORBIDDEN);
      }),
      { numRuns: 1_000 },
    );
  });

  it('keeps strings a database tells apart apart: no Unicode normalization, lone surrogates kept', () => {
    // `José` written NFD and NFC are two rows to PostgreSQL: one key would let one answer for the other.
    expect(encodeKeyPart('Jose\u0301')).not.toBe(encodeKeyPart('Jos\u00e9'));
    const lone = ['\ud800', '\udfff', '\ufffd', '%uD800', 'a\ud800b'];
    expect(new Set(lone.map((p) => encodeKeyPart(p))).size).toBe(lone.length);
    expect(encodeKeyPart('\ud800')).toBe('%uD800');
  });

  it('refuses parts that String() would squash: objects, arrays, NaN, null, undefined', () => {
    // A viewer id typed `any` that is the whole user object keyed every viewer as `[object Object]`.
    for (const part of [{ id: 'alice' }, ['a', 'b'], new Date(0), null, undefined, NaN, Infinity, () => 1, Symbol('s')]) {
      expect(() => encodeKeyPart(part as unknown as string)).toThrow(/A cache key part is/);
    }
    expect(encodeKeyPart(true)).toBe('true');
    expect(encodeKeyPart(10n as unknown as number)).toBe('10');
  });

  it('caps long keys with a readable head and a SHA-256 tail', () => {
    const key = buildKey('app:c1', 'characters:list', ['x'.repeat(500)]);
    expect(key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    expect(key.startsWith('app:c1:characters:list:xxx')).toBe(true);
    expect(key).toMatch(/:#[0-9a-f]{64}$/);
  });

  it('refuses null and undefined parts instead of keying them as "undefined"', () => {
    expect(() => encodeKeyPart(undefined as unknown as string)).toThrow(/is undefined/);
    expect(() => encodeKeyPart(null as unknown as string)).toThrow(/is null/);
  });

  it('keeps an empty part distinct from a missing one', () => {
    expect(buildKey('p', 'ns', [''])).not.toBe(buildKey('p', 'ns', []));
  });

  it('keeps entry keys apart from the keys the cache keeps for itself', () => {
    // A tag's versions live at `<prefix>:tag:<tag>`, a load's lease next to its entry.
    expect(() => assertNamespace('tag')).toThrow(/tag versions/);
    expect(() => assertNamespace('tag:x')).toThrow(/tag versions/);
    expect(() => assertNamespace('tags')).not.toThrow();
    expect(leaseKey(buildKey('p', 'ns', [1]))).not.toBe(buildKey('p', 'ns', [1, 'lease']));
    expect(leaseKey(buildKey('p', 'ns', [1]))).not.toBe(buildKey('p', 'ns', [1, '%lease']));
  });

  it('refuses a namespace that extends another in use: their keys could be one', () => {
    expect(buildKey('p', 'users', ['profile', 42])).toBe(buildKey('p', 'users:profile', [42]));
    expect(() => assertNoNamespaceClash('users:profile', ['images', 'users'])).toThrow(/"users" and "users:profile" clash/);
    expect(() => assertNoNamespaceClash('users', ['users:profile'])).toThrow(/clash/);
    expect(() => assertNoNamespaceClash('users:id', ['users:profile', 'users-x', 'user'])).not.toThrow();
  });
});
