import { hmacSha256Hex, verifyHmacSignature } from './hmac';
import { parseIfMatch } from './if-match';
import { toPage } from './page';

describe('parseIfMatch', () => {
  it.each([
    ['"3"', { version: 3 }],
    ['W/"12"', { version: 12 }],
    ['7', { version: 7 }],
    ['"Xy3_kP9-aaaaaaaaaaaaaa"', { etag: '"Xy3_kP9-aaaaaaaaaaaaaa"' }],
    [undefined, undefined],
    ['', undefined],
  ])('reads %p as %p', (header, expected) => {
    expect(parseIfMatch(header)).toEqual(expected);
  });

  it.each(['abc', '"-1"', '"1.5"', '*', '"1", "2"'])('refuses %p naming the header', (header) => {
    expect(() => parseIfMatch(header)).toThrow(expect.objectContaining({ response: expect.objectContaining({ details: [expect.objectContaining({ field: 'If-Match' })] }) }));
  });
});

describe('verifyHmacSignature', () => {
  const body = Buffer.from('{"a":1}');
  const good = hmacSha256Hex('secret-secret-secret', body);

  it('accepts sha256=<hex> and bare hex made with the secret', () => {
    expect(verifyHmacSignature('secret-secret-secret', body, `sha256=${good}`)).toBe(true);
    expect(verifyHmacSignature('secret-secret-secret', body, good)).toBe(true);
  });

  it('refuses another secret, another body, a missing or malformed header, a missing body', () => {
    expect(verifyHmacSignature('other-secret-value', body, good)).toBe(false);
    expect(verifyHmacSignature('secret-secret-secret', Buffer.from('{"a":2}'), good)).toBe(false);
    expect(verifyHmacSignature('secret-secret-secret', body, undefined)).toBe(false);
    expect(verifyHmacSignature('secret-secret-secret', body, 'sha256=abc')).toBe(false);
    expect(verifyHmacSignature('secret-secret-secret', undefined, good)).toBe(false);
  });
});

describe('toPage', () => {
  it('says whether another page follows', () => {
    expect(toPage([1, 2], 5, { page: 2, limit: 2 })).toEqual({ items: [1, 2], page: 2, limit: 2, total: 5, hasNext: true });
    expect(toPage([5], 5, { page: 3, limit: 2 }).hasNext).toBe(false);
    expect(toPage([], 4, { page: 2, limit: 2 }).hasNext).toBe(false);
  });
});
