import { isRealDateTime } from './is-date-time.decorator';

describe('isRealDateTime', () => {
  it('takes real instants, in UTC or with an offset, leap days included', () => {
    for (const ok of ['2026-01-31T12:00:00Z', '2024-02-29T00:00:00Z', '2026-12-31T23:59:59.999+14:00', '2026-04-30T00:00-05:30']) {
      expect({ ok, real: isRealDateTime(ok) }).toEqual({ ok, real: true });
    }
  });

  it('refuses the dates Date.parse rolls over into other days instead of refusing', () => {
    for (const bad of ['2026-02-31T00:00:00Z', '2026-02-29T00:00:00Z', '2026-04-31T00:00Z', '2026-01-01T24:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z']) {
      expect({ bad, real: isRealDateTime(bad) }).toEqual({ bad, real: false });
    }
  });
});
