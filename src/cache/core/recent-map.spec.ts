import { RecentMap } from './recent-map';

describe('RecentMap', () => {
  it('holds at most two generations, and keeps what was used within the last generation', () => {
    const map = new RecentMap<number, string>(100);
    for (let i = 0; i < 1_000; i++) {
      map.set(i, `v${i}`);
      // Key 0 is read all along: it is never dropped, however many others come and go.
      expect(map.get(0)).toBe('v0');
      expect(map.size).toBeLessThanOrEqual(200);
    }
    expect(map.get(999)).toBe('v999');
    expect(map.get(899)).toBe('v899');
    // Neither written nor read within the last two generations: gone.
    expect(map.get(500)).toBeUndefined();
    expect(map.get(1)).toBeUndefined();
  });

  it('a value written again replaces the old one, wherever the old one was', () => {
    const map = new RecentMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2); // generation full: a and b are now the previous one
    map.set('a', 3);
    expect(map.get('a')).toBe(3);
    expect(map.get('b')).toBe(2);
    expect(map.size).toBe(2);
  });

  it('refuses a generation size below one', () => {
    expect(() => new RecentMap(0)).toThrow(/at least one/);
  });
});
