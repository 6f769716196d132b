import { createHmac, timingSafeEqual } from 'node:crypto';

export function hmacSha256Hex(secret: string, payload: Buffer | string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/**
 * Checks a `sha256=<hex>` (or bare hex) signature of the raw body in constant time. The raw bytes matter: a
 * re-serialized JSON body would not match what the sender signed.
 */
export function verifyHmacSignature(secret: string, rawBody: Buffer | undefined, header: unknown): boolean {
  if (!rawBody || typeof header !== 'string') {
    return false;
  }
  const given = header.startsWith('sha256=') ? header.slice(7) : header;
  if (!/^[0-9a-f]{64}$/i.test(given)) {
    return false;
  }
  const expected = Buffer.from(hmacSha256Hex(secret, rawBody), 'hex');
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}
