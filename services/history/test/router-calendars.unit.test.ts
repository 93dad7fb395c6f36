import { TierHours } from '@omni/business-time';
import { calendarAt } from '../src/router-calendars';

describe('the calendar version in force at an instant', () => {
  const v1 = new TierHours({ tiers: {} });
  const v3 = new TierHours({ tiers: { '1': { timeZone: 'UTC', weekly: {} } } });
  // v1 created, v2 created (hours never seen), v3 created, v1 re-activated (observed)
  const at = calendarAt(
    {
      versions: new Map([
        [1, { tiers: {} }],
        [2, null],
        [3, { tiers: { '1': { timeZone: 'UTC', weekly: {} } } }],
      ]),
      periods: [
        { fromAt: '2026-01-01T00:00:00.000Z', version: 1 },
        { fromAt: '2026-02-01T00:00:00.000Z', version: 2 },
        { fromAt: '2026-03-01T00:00:00.000Z', version: 3 },
        { fromAt: '2026-04-01T00:00:00.000Z', version: 1 },
      ],
    },
    new Map([
      [1, v1],
      [3, v3],
    ]),
  );

  it.each([
    ['before any version: always open (version 0)', '2025-12-31T23:59:59.999Z', 0],
    ['at the creation of version 1', '2026-01-01T00:00:00.000Z', 1],
    ['inside version 3', '2026-03-15T00:00:00.000Z', 3],
    ['after version 1 was re-activated', '2026-04-02T00:00:00.000Z', 1],
  ])('%s', (_what, instant, version) => {
    expect(at(instant)?.version).toBe(version);
  });

  it('uses the compiled hours of that version, and has none for a version whose hours history never saw', () => {
    expect(at('2026-03-15T00:00:00.000Z')!.hours).toBe(v3);
    expect(at('2026-04-02T00:00:00.000Z')!.hours).toBe(v1);
    expect(at('2026-02-15T00:00:00.000Z')).toBeUndefined();
    expect(at('2025-06-01T00:00:00.000Z')!.hours.isOpen(1, new Date('2025-06-01T03:00:00.000Z'))).toBe(true);
  });
});
