import { plainToInstance } from 'class-transformer';
import { IsBoolean, IsUUID, validateSync } from 'class-validator';
import { hmacSha256Hex, verifyHmacSignature } from './hmac';
import { parseIfMatch } from './if-match';
import { Omittable } from './omittable.decorator';
import { toPage } from './page';
import { LowerCaseUuid } from './uuid-param.decorator';

describe('parseIfMatch', () => {
  const etag = '"Xy3_kP9-aaaaaaaaaaaaaa"';
  it.each([
    ['"3"', { versions: [3], etags: [], weak: 0 }],
    ['7', { versions: [7], etags: [], weak: 0 }],
    [etag, { versions: [], etags: [etag], weak: 0 }],
    ['*', { any: true }],
    [' * ', { any: true }],
    // a list: any member may match; empty members are allowed; repeated header lines arrive joined by ", "
    [`"1", ${etag},"2"`, { versions: [1, 2], etags: [etag], weak: 0 }],
    ['"1", , "2",', { versions: [1, 2], etags: [], weak: 0 }],
    // strong comparison: a weak tag never matches, so it adds nothing (counted, to say so in the 412)
    ['W/"12"', { versions: [], etags: [], weak: 1 }],
    [`W/${etag}, "4"`, { versions: [4], etags: [], weak: 1 }],
    [undefined, undefined],
    ['', undefined],
  ])('reads %p as %p', (header, expected) => {
    expect(parseIfMatch(header)).toEqual(expected);
  });

  it.each(['abc', '"-1"', '"1.5"', '"1', '*, "1"', '"1" "2"', ',', 'w/"1"', 'W/abc'])('refuses %p naming the header', (header) => {
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

describe('Omittable', () => {
  class Body {
    @Omittable()
    @IsBoolean()
    flag?: boolean;

    @Omittable({ nullable: true })
    @IsBoolean()
    clearable?: boolean | null;
  }
  const invalid = (plain: object) => validateSync(plainToInstance(Body, plain)).map((e) => e.property);

  it('lets a field be left out, and null only where it is nullable', () => {
    expect(invalid({})).toEqual([]);
    expect(invalid({ flag: true, clearable: null })).toEqual([]);
    expect(invalid({ flag: null })).toEqual(['flag']);
    expect(invalid({ flag: 'yes', clearable: 'no' })).toEqual(['flag', 'clearable']);
  });
});

describe('LowerCaseUuid', () => {
  class Body {
    @LowerCaseUuid()
    @IsUUID()
    id: string;

    @LowerCaseUuid()
    @IsUUID('all', { each: true })
    ids: string[];
  }

  it('lower-cases one UUID or a list of them, and leaves other values to the validators', () => {
    const upper = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
    const lower = upper.toLowerCase();
    expect(plainToInstance(Body, { id: upper, ids: [upper, 7] })).toEqual({ id: lower, ids: [lower, 7] });
    expect(plainToInstance(Body, { id: null, ids: 'x' })).toEqual({ id: null, ids: 'x' });
  });
});
