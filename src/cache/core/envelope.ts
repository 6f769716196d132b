import { hash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { RecentMap } from './recent-map';

export const ENVELOPE_SCHEMA = 1;

/**
 * How a compressed entry starts in Redis: a NUL byte (which no envelope, a JSON header, can start with), `Z`,
 * then the envelope's bytes in raw DEFLATE.
 */
const DEFLATED = Buffer.from([0x00, 0x5a]);
/** Fastest zlib level: gallery and list JSON shrink to about 30 % at level 1 already, higher levels gain ~1 %. */
const DEFLATE_LEVEL = 1;
/** Characters of the content hash kept in the header: 132 bits of the SHA-1, base64url. */
const HASH_LENGTH = 22;
const HEAD_END = '"}\n';
/** Heap bytes of a parsed value per byte of its JSON (an estimate: see `weight`). */
const PARSED_PER_BYTE = 1.25;

/** Tag versions recorded when an entry was written: `[tag, version]`. */
export type TagStamp = [tag: string, version: number];

export interface EnvelopeHeader {
  /** schema version of the envelope format */
  v: number;
  /** the full key: a read that finds another key's bytes (a hash collision, a bug) treats it as a miss */
  k: string;
  /** created at (ms since epoch) */
  c: number;
  /** fresh until (ms since epoch) */
  f: number;
  /** usable as stale until (fresh until + grace) */
  s: number;
  /** tag versions at write time */
  t: TagStamp[];
  /** content hash of the payload bytes (base64url), usable as a strong ETag */
  h: string;
  /** set by an eviction in `expire` mode: the entry only serves as a fallback when reloading it fails */
  x?: 1;
}

/**
 * One cache entry, serialized once: a JSON header line, `\n`, then the value's JSON. The same bytes live in L1
 * and in Redis. The payload can be sent to an HTTP client as it is; the value is parsed at most once per
 * process (on first use) and frozen, because L1 hands the same object to every caller.
 */
/**
 * The content hash an envelope carries for these JSON bytes (or this JSON text): a strong ETag. Also for an answer
 * built without the cache (caching disabled), so its ETag is the one a cached answer of the same value has.
 */
export function contentHash(json: Buffer | string): string {
  return hash('sha1', json, 'base64url').slice(0, HASH_LENGTH);
}

export class Envelope {
  private parsed: unknown;
  private isParsed = false;
  /**
   * Whether L1 last weighed this entry with its parsed value (L1's bookkeeping: `weight` only changes when the
   * value gets parsed, and comparing two flags is cheaper per hit than working the weight out again).
   */
  weighedParsed = false;
  /** Whether Redis held this entry compressed when it was read (`fromStored`). */
  private readCompressed = false;
  /** Whether `parsed` is deep-frozen (always, once parsed from bytes; a created value, once it is shared). */
  private isFrozen = false;

  private constructor(
    readonly header: EnvelopeHeader,
    private ownBytes: Buffer,
    private readonly payloadStart: number,
    /**
     * The tag generation at which this entry's tags were last found fresh (TagVersions' bookkeeping); shared by
     * every envelope decoded from the same header bytes (see HeaderMemo), since they carry the same tag stamps.
     */
    readonly tagMemo: { tagsFreshAt: number } = { tagsFreshAt: -1 },
  ) {}

  static create(key: string, value: unknown, times: { createdAt: number; freshUntil: number; staleUntil: number }, tags: TagStamp[]): Envelope {
    const json = JSON.stringify(value);
    // The header ends with the hash (fixed length), so its size is known before the hash is: header and payload
    // are written into one buffer, and the hash is taken over the payload's bytes in place (no second copy).
    const partial: Omit<EnvelopeHeader, 'h'> = { v: ENVELOPE_SCHEMA, k: key, c: times.createdAt, f: times.freshUntil, s: times.staleUntil, t: tags };
    const headStart = `${JSON.stringify(partial).slice(0, -1)},"h":"`;
    const headLength = Buffer.byteLength(headStart) + HASH_LENGTH + HEAD_END.length;
    // Not `allocUnsafe`: below 4 KB it slices Node's shared 8 KB pool, and L1 keeping the slice keeps the slab.
    const bytes = Buffer.allocUnsafeSlow(headLength + Buffer.byteLength(json));
    bytes.write(json, headLength, 'utf8');
    const h = contentHash(bytes.subarray(headLength));
    bytes.write(`${headStart}${h}${HEAD_END}`, 0, 'utf8');
    const envelope = new Envelope({ ...partial, h }, bytes, headLength);
    // Frozen once the cache shares it (`share`, `value`), not before: a value set on an instance without L1 is
    // not kept, and stays the caller's own.
    envelope.parsed = value;
    envelope.isParsed = true;
    return envelope;
  }

  /**
   * Reads what Redis holds (an envelope, or one compressed by `stored`); null when it is not an envelope of this
   * schema for this key, or cannot be inflated.
   */
  static fromStored(key: string, stored: Buffer, headers?: HeaderMemo): Envelope | null {
    if (stored[0] !== DEFLATED[0] || stored[1] !== DEFLATED[1]) {
      return Envelope.decode(key, stored, headers);
    }
    let bytes: Buffer;
    try {
      bytes = inflateRawSync(stored.subarray(DEFLATED.length));
    } catch {
      return null;
    }
    const envelope = Envelope.decode(key, bytes, headers);
    if (envelope) {
      envelope.readCompressed = true;
    }
    return envelope;
  }

  /**
   * Reads bytes from a tier; null when they are not an envelope of this schema for this key. With `headers`, a
   * header already parsed from the very same bytes for this key is reused instead of parsed again.
   */
  static decode(key: string, bytes: Buffer, headers?: HeaderMemo): Envelope | null {
    const newline = bytes.indexOf(0x0a);
    if (newline < 0) {
      return null;
    }
    const known = headers?.find(key, bytes, newline);
    if (known) {
      return new Envelope(known.header, bytes, newline + 1, known.tagMemo);
    }
    let header: EnvelopeHeader;
    try {
      header = JSON.parse(bytes.toString('utf8', 0, newline)) as EnvelopeHeader;
    } catch {
      return null;
    }
    if (header.v !== ENVELOPE_SCHEMA || header.k !== key) {
      return null;
    }
    const envelope = new Envelope(header, bytes, newline + 1);
    headers?.remember(key, bytes, newline, envelope);
    return envelope;
  }

  /**
   * What this entry's bytes and value cost in memory: the bytes, plus — once the value is parsed (or was given)
   * — an estimate of the parsed objects on the V8 heap: 1.25× the payload's JSON, as measured on character
   * cards and pages (1 KB: 1.2×, 14 KB: 1.24×; see l1.spec). L1 adds the per-entry cost (L1Store).
   */
  /** Whether the value is held parsed (read, or given to `create`): what `weight` depends on besides the bytes. */
  get hasParsedValue(): boolean {
    return this.isParsed;
  }

  get weight(): number {
    return this.isParsed ? this.bytes.length + Math.ceil((this.bytes.length - this.payloadStart) * PARSED_PER_BYTE) : this.bytes.length;
  }

  /**
   * The bytes to store in Redis: the envelope itself, or — when `compressFrom` is a size it reaches — the
   * envelope compressed (raw DEFLATE behind a 2-byte marker). L1 always holds the plain envelope, so HTTP answers,
   * ETags and hashes never depend on how Redis stores an entry.
   */
  stored(compressFrom: number | null): Buffer {
    if (compressFrom === null || this.bytes.length < compressFrom) {
      return this.bytes;
    }
    // Not kept on the envelope: L1 holds envelopes, and it is needed once per write.
    const deflated = Buffer.concat([DEFLATED, deflateRawSync(this.bytes, { level: DEFLATE_LEVEL })]);
    // Not worth an inflate per read when it saves less than a tenth (tiny entries, already-compressed data).
    return deflated.length <= this.bytes.length * 0.9 ? deflated : this.bytes;
  }

  /** The whole envelope: header line, then payload. */
  get bytes(): Buffer {
    return this.ownBytes;
  }

  /**
   * Makes the bytes this envelope's own memory, of exactly their size. Bytes read from Redis are a slice of the
   * socket read or MGET reply they came in, next to other replies: L1 keeping that slice would keep all of them
   * alive, outside L1's byte budget. L1 calls this before it keeps an entry; it copies only a slice.
   */
  own(): void {
    if (this.ownBytes.buffer.byteLength !== this.ownBytes.length) {
      this.ownBytes = exactCopy(this.ownBytes);
    }
  }

  /** The value's JSON bytes, exactly as stored. */
  get payload(): Buffer {
    return this.bytes.subarray(this.payloadStart);
  }

  get value(): unknown {
    if (!this.isParsed) {
      const parsed: unknown = JSON.parse(this.bytes.toString('utf8', this.payloadStart));
      if (typeof parsed === 'object' && parsed !== null) {
        freezeParsed(parsed);
      }
      this.parsed = parsed;
      this.isParsed = this.isFrozen = true;
    } else if (!this.isFrozen) {
      this.share();
    }
    return this.parsed;
  }

  /**
   * Makes a value given to `create` safe to hand to more than one holder: deep-frozen. L1 calls it before keeping
   * an entry, so a caller that passed a value to `set` cannot change what L1 hands out later. (A value parsed
   * from bytes is frozen as it is parsed.)
   */
  share(): void {
    if (this.isParsed && !this.isFrozen) {
      deepFreeze(this.parsed);
      this.isFrozen = true;
    }
  }

  /** Whether Redis held this entry compressed when `fromStored` read it. */
  get isCompressed(): boolean {
    return this.readCompressed;
  }

  /**
   * A copy whose fresh period has ended now, marked as evicted (the `expire` eviction mode): still usable as a
   * fallback if reloading fails, but never served while a reload is on its way, as an entry past its TTL may be.
   */
  expired(now: number): Envelope {
    const header: EnvelopeHeader = { ...this.header, f: Math.min(this.header.f, now), x: 1 };
    const head = `${JSON.stringify(header)}\n`;
    const headLength = Buffer.byteLength(head);
    const bytes = Buffer.allocUnsafeSlow(headLength + this.payload.length);
    bytes.write(head, 0, 'utf8');
    this.payload.copy(bytes, headLength);
    return new Envelope(header, bytes, headLength);
  }
}

/**
 * Envelope headers parsed lately, by key, with the bytes they were parsed from: an entry read from Redis again
 * with the same header bytes (the usual case: it has not changed) reuses the parse, and the tag verdict memo
 * that goes with it, instead of a `JSON.parse` and a tag lookup per read. Found only by an exact byte match, so
 * it can never make a read see anything but what Redis sent. Bounded: see RecentMap; at most 20 k headers (a few
 * hundred bytes each), so a working set of ~7 k entries (the Zipf benchmark's) does not churn through it.
 */
export class HeaderMemo {
  private readonly seen: RecentMap<string, { bytes: Buffer; header: EnvelopeHeader; tagMemo: { tagsFreshAt: number } }>;

  constructor(perGeneration = 10_000) {
    this.seen = new RecentMap(perGeneration);
  }

  find(key: string, bytes: Buffer, headerLength: number): { header: EnvelopeHeader; tagMemo: { tagsFreshAt: number } } | undefined {
    const known = this.seen.get(key);
    return known && known.bytes.length === headerLength && known.bytes.compare(bytes, 0, headerLength) === 0 ? known : undefined;
  }

  remember(key: string, bytes: Buffer, headerLength: number, envelope: Envelope): void {
    // A copy of its own: `bytes` may be a view into a socket's read buffer, which must not stay alive for this.
    const copy = exactCopy(bytes.subarray(0, headerLength));
    this.seen.set(key, { bytes: copy, header: Object.freeze(envelope.header), tagMemo: envelope.tagMemo });
  }
}

/** A copy in memory of its own, exactly sized (`Buffer.from` would slice Node's shared pool below 4 KB). */
function exactCopy(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    freezeTree(value);
  }
  return value;
}

/** Recurses only into unfrozen objects and allocates nothing (a value given to `set` may hold frozen parts). */
function freezeTree(value: object): void {
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) {
        freezeTree(child);
      }
    }
    return;
  }
  for (const key in value) {
    const child: unknown = (value as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) {
      freezeTree(child);
    }
  }
}

/**
 * `deepFreeze` for what `JSON.parse` just returned: a tree of plain objects and arrays, none of them frozen yet,
 * so no `isFrozen` check per object. It runs on every value read from Redis (~1 µs less on a 14 KB page).
 */
function freezeParsed(value: object): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      if (typeof child === 'object' && child !== null) {
        freezeParsed(child);
      }
    }
  } else {
    for (const key in value) {
      const child: unknown = (value as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) {
        freezeParsed(child);
      }
    }
  }
  Object.freeze(value);
}
