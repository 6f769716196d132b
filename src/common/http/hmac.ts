import { createHmac, timingSafeEqual } from 'node:crypto';

export function hmacSha256Hex(secret: string, payload: Buffer | string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/**
 * The token in the callback URL handed to the generator for one job. The body's signature does not cover the
 * job id in the path, so without it a delivery seen once (a proxy log, a plain-HTTP hop) could be replayed
 * against any other job; with it, only the URL of the job it was made for is accepted.
 */
export function callbackToken(secret: string, jobId: string): string {
  return hmacSha256Hex(secret, `generation-callback:${jobId.toLowerCase()}`);
}

/** Compares two hex strings in constant time (false for anything that is not hex of the same length). */
export function sameHex(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== expected.length || !/^[0-9a-f]+$/i.test(given)) {
    return false;
  }
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given.toLowerCase(), 'hex'));
}

/**
 * Checks a `sha256=<hex>` (or bare hex) signature of the raw body in constant time. The raw bytes matter: a
 * re-serialized JSON body would not match what the sender signed.
 */
export function verifyHmacSignature(secret: string, rawBody: Buffer | undefined, header: unknown): boolean {
  if (!rawBody || typeof header !== 'string') {
    return false;
  }
  return sameHex(hmacSha256Hex(secret, rawBody), header.startsWith('sha256=') ? header.slice(7) : header);
}
