import { ConfigService } from '@nestjs/config';
import { CdnUrlBuilder } from './cdn-url.builder';

const builder = (signingKey = 'signing-key-for-tests-0123') =>
  new CdnUrlBuilder(
    new ConfigService({ storage: { cdnBaseUrl: 'https://cdn.example.com', signingKey, urlMinValidityS: 7_200 } }),
  );

describe('CdnUrlBuilder', () => {
  const now = Date.UTC(2026, 10, 24, 10, 17, 0);

  it('signs every variant with an expiry past the minimum validity, rounded up to the hour', () => {
    const variants = builder().variants('images/c1/i1.png', now);
    expect(Object.keys(variants)).toEqual(['thumb', 'card', 'full']);
    expect(variants.thumb).toMatch(/^https:\/\/cdn\.example\.com\/v\/thumb\/images\/c1\/i1\.png\?w=256&exp=\d+&sig=[\w-]{43}$/);
    const exp = Number(/exp=(\d+)/.exec(variants.card)![1]) * 1000;
    expect(exp - now).toBeGreaterThanOrEqual(7_200_000);
    expect(exp - now).toBeLessThan(7_200_000 + 3_600_000);
    expect(exp % 3_600_000).toBe(0);
  });

  it('gives the same URL within the hour (caches stay warm) and verifies it', () => {
    const cdn = builder();
    const a = cdn.variants('k.png', now).card;
    expect(cdn.variants('k.png', now + 60_000).card).toBe(a);
    expect(cdn.verify(a.replace('https://cdn.example.com', ''), now)).toBe(true);
  });

  it('refuses a tampered path, another key, and an expired URL', () => {
    const cdn = builder();
    const path = cdn.variants('k.png', now).card.replace('https://cdn.example.com', '');
    expect(cdn.verify(path.replace('w=512', 'w=4096'), now)).toBe(false);
    expect(builder('another-signing-key-0000').verify(path, now)).toBe(false);
    expect(cdn.verify(path, now + 4 * 3_600_000)).toBe(false);
  });

  it('encodes storage keys segment by segment', () => {
    expect(builder().url('images/a b/c?.png')).toBe('https://cdn.example.com/images/a%20b/c%3F.png');
  });
});
