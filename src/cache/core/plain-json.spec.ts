import { notPlainJson } from './plain-json';

describe('notPlainJson: what the cache can store and hand back unchanged from any tier', () => {
  it('accepts plain data, nested, with undefined fields (JSON leaves them out) and shared (not circular) parts', () => {
    const shared = { a: 1 };
    const value = { s: 'x', n: -1.5, b: false, z: null, list: [1, 'two', { three: [3] }], gone: undefined, x: shared, y: shared };
    expect(notPlainJson(value)).toBeUndefined();
    expect(notPlainJson(Object.assign(Object.create(null) as object, { a: 1 }))).toBeUndefined();
    for (const top of [null, 0, '', false, [], {}]) {
      expect(notPlainJson(top)).toBeUndefined();
    }
  });

  it.each([
    ['a Date', { at: new Date(0) }, 'date', '.at'],
    ['a class instance', { user: new (class UserDto {})() }, 'class', '.user'],
    ['a Map', [new Map()], 'collection', '[0]'],
    ['a Set', { tags: new Set(['a']) }, 'collection', '.tags'],
    ['a Buffer', { data: Buffer.from('x') }, 'binary', '.data'],
    ['a Uint8Array', { data: new Uint8Array([1]) }, 'binary', '.data'],
    ['a bigint', { n: 10n }, 'bigint', '.n'],
    ['NaN', { n: NaN }, 'number', '.n'],
    ['Infinity', [1, Infinity], 'number', '[1]'],
    ['a function', { toJSON: () => 1 }, 'function', '.toJSON'],
    ['an undefined item', [1, undefined], 'hole', '[1]'],
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    ['a hole', [1, , 3], 'hole', '[1]'],
  ])('refuses %s, naming where it is', (_name, value, kind, path) => {
    expect(notPlainJson(value)).toMatchObject({ kind, path });
  });

  it('refuses a cycle instead of overflowing', () => {
    const a: Record<string, unknown> = { b: { list: [] as unknown[] } };
    ((a.b as { list: unknown[] }).list).push(a);
    expect(notPlainJson(a)).toMatchObject({ kind: 'cycle', path: '.b.list[0]' });
  });

  it('names the class it found', () => {
    class Money {}
    expect(notPlainJson({ price: new Money() })?.what).toBe('Money');
  });
});
