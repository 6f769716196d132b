import { createHash } from 'node:crypto';

/** A key part as written by a developer: strings, numbers and booleans; null/undefined are refused. */
export type KeyPart = string | number | boolean;

export const MAX_KEY_LENGTH = 200;
const HEAD_LENGTH = 120;

/**
 * Encodes one part so it can never change the key's structure: every character outside `[A-Za-z0-9_.-]` is
 * percent-encoded (its UTF-8 bytes) — `:` `*` `?` `[` `]` `\`, whitespace, control characters and `%` itself never
 * reach Redis raw. Nothing is normalized: two strings a database tells apart (`José` written NFC and NFD) are two
 * keys, or one could answer for the other. A lone surrogate, which has no UTF-8 form, is written `%uD800`, which
 * no byte's `%XX` can be. So distinct parts stay distinct; a number and its digits (`1`, `'1'`) are one part.
 */
const SAFE_PART = /^[A-Za-z0-9_.-]+$/;

/**
 * The empty part (a segment must not be empty). Encoding never writes it: its `%` is followed by two upper-case
 * hex digits, `%empty` by lower-case letters. (It was `%00`, which a part holding one NUL character also gives.)
 */
const EMPTY_PART = '%empty';

/** Up to this length, `isSafeShort` is faster than `SAFE_PART` (measured: 10 against 20 ns for 3 characters). */
const SHORT_PART = 12;

function isSafeShort(raw: string): boolean {
  if (raw.length === 0) {
    return false;
  }
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    const safe =
      (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e || c === 0x2d;
    if (!safe) {
      return false;
    }
  }
  return true;
}

export function encodeKeyPart(part: KeyPart): string {
  // Fast paths (keys are built on every cached call): integers print as digits and `-`; ASCII letters, digits
  // and `_.-` need no encoding. A loop over the characters beats the regex on short parts.
  if (typeof part === 'number' && Number.isSafeInteger(part)) {
    return String(part);
  }
  if (typeof part !== 'string') {
    assertKeyPart(part);
  }
  const raw = String(part);
  if (raw.length <= SHORT_PART ? isSafeShort(raw) : SAFE_PART.test(raw)) {
    return raw;
  }
  if (raw === '') {
    return EMPTY_PART;
  }
  return raw.replace(/[^A-Za-z0-9_.-]/gu, percentEncoded);
}

/**
 * Refuses what `String()` would squash: any object (`[object Object]` for every one of them, `a,b` for an array and
 * for the string), null, undefined, NaN and ±Infinity. TypeScript's `KeyPart` says the same, but values typed `any`
 * (a request's user, a query object) pass it; at run time two viewers' objects must never make one key.
 */
function assertKeyPart(part: unknown): void {
  const kind = typeof part;
  if (kind === 'boolean' || kind === 'bigint' || (kind === 'number' && Number.isFinite(part))) {
    return;
  }
  throw new Error(`A cache key part is ${describe(part)}: build keys from strings, numbers and booleans that are always present`);
}

function describe(part: unknown): string {
  if (part === null) {
    return 'null';
  }
  if (typeof part === 'number') {
    return `${part}`;
  }
  if (typeof part !== 'object') {
    return typeof part;
  }
  if (Array.isArray(part)) {
    return 'an object (array)';
  }
  const prototype = Object.getPrototypeOf(part) as { constructor?: { name?: string } } | null;
  return `an object (${prototype?.constructor?.name ?? 'null prototype'})`;
}

function percentEncoded(ch: string): string {
  const code = ch.charCodeAt(0);
  if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) {
    return `%u${code.toString(16).toUpperCase()}`;
  }
  return Array.from(Buffer.from(ch, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/**
 * `prefix:namespace:part:part…`. A key longer than the cap keeps a readable head and ends in a SHA-256 of the
 * whole key, so it stays unique and debuggable.
 */
export function buildKey(prefix: string, namespace: string, parts: readonly KeyPart[]): string {
  let key = `${prefix}:${namespace}`;
  for (const part of parts) {
    key += `:${encodeKeyPart(part)}`;
  }
  if (key.length <= MAX_KEY_LENGTH) {
    return key;
  }
  const digest = createHash('sha256').update(key).digest('hex');
  return `${key.slice(0, HEAD_LENGTH)}:#${digest}`;
}

/**
 * Namespaces are declared in code: `characters:list`, `images`, … (letters, digits, `_`, `-`, `:` between). The
 * first segment `tag` is the tag versions' own (`<prefix>:tag:<tag>`, see TagVersions), so no entry can land on one.
 */
export function assertNamespace(namespace: string): void {
  if (!/^[a-z0-9_-]+(:[a-z0-9_-]+)*$/i.test(namespace)) {
    throw new Error(`Invalid cache namespace "${namespace}": use letters, digits, _ and -, separated by ':'`);
  }
  if (/^tag(:|$)/i.test(namespace)) {
    throw new Error(`Invalid cache namespace "${namespace}": "tag" is where the cache keeps its tag versions`);
  }
}

/**
 * Refuses a namespace that extends another one in use, or is extended by it: `users` with parts `profile, 42`
 * and `users:profile` with part `42` would be one key. Namespaces are declared in code, so a clash shows up in
 * the first test that uses both.
 */
export function assertNoNamespaceClash(namespace: string, others: Iterable<string>): void {
  for (const other of others) {
    const [shorter, longer] = other.length < namespace.length ? [other, namespace] : [namespace, other];
    if (longer.startsWith(`${shorter}:`)) {
      throw new Error(`Cache namespaces "${shorter}" and "${longer}" clash: a key of one can be a key of the other`);
    }
  }
}

/** The lease of an entry's load (see CachePolicy.lease): `%lease` is no encoded part, so no entry's key. */
export const leaseKey = (key: string): string => `${key}:%lease`;

/** The tag every entry of a namespace carries, so clearing a namespace is one O(1) tag invalidation. */
export const namespaceTag = (namespace: string): string => `ns:${namespace}`;
