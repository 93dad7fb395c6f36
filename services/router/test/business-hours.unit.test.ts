import fc from 'fast-check';
import { Value } from '@sinclair/typebox/value';
import { BusinessCalendar, BusinessHours, Calendar, TierHours, calendarProblems, instantOf, type Interval } from '../src/domain/business-hours';

const madrid: Calendar = {
  timeZone: 'Europe/Madrid',
  weekly: {
    mon: [{ start: '09:00', end: '14:00' }, { start: '16:00', end: '19:00' }],
    tue: [{ start: '09:00', end: '14:00' }, { start: '16:00', end: '19:00' }],
    wed: [{ start: '09:00', end: '14:00' }, { start: '16:00', end: '19:00' }],
    thu: [{ start: '09:00', end: '14:00' }, { start: '16:00', end: '19:00' }],
    fri: [{ start: '09:00', end: '15:00' }],
  },
  exceptions: [
    { date: '2026-12-25', hours: [], note: 'Navidad' },
    { date: '2026-12-26', hours: [{ start: '10:00', end: '12:00' }], note: 'Saturday special' },
  ],
};
const cal = new BusinessCalendar(madrid);
/** PROPERTY_RUNS_FACTOR=20 for a one-off stress run */
const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);
const d = (iso: string) => new Date(iso);

describe('business hours: table', () => {
  // 2026-12-21 is a Monday; Madrid is UTC+1 in winter
  it.each([
    ['Mon 08:59 local', '2026-12-21T07:59:00Z', false],
    ['Mon 09:00 local (opening is inside)', '2026-12-21T08:00:00Z', true],
    ['Mon 13:59 local', '2026-12-21T12:59:00Z', true],
    ['Mon 14:00 local (closing is outside)', '2026-12-21T13:00:00Z', false],
    ['Mon 15:00 local (split-shift lunch)', '2026-12-21T14:00:00Z', false],
    ['Mon 16:30 local', '2026-12-21T15:30:00Z', true],
    ['Fri 14:30 local', '2026-12-25T13:30:00Z', false], // Christmas closure
    ['Sat 11:00 local (special opening)', '2026-12-26T10:00:00Z', true],
    ['Sun 11:00 local', '2026-12-27T10:00:00Z', false],
    ['Fri 14:30 local, ordinary Friday', '2027-01-01T13:30:00Z', true],
  ])('%s → open %s', (_name, iso, open) => {
    expect(cal.isOpen(d(iso))).toBe(open);
  });

  it.each([
    ['during hours: now', '2026-12-21T10:00:00Z', '2026-12-21T10:00:00.000Z'],
    ['lunch: the afternoon shift', '2026-12-21T13:30:00Z', '2026-12-21T15:00:00.000Z'],
    ['Thursday evening before Christmas: the Saturday special', '2026-12-24T19:00:00Z', '2026-12-26T09:00:00.000Z'],
    ['Saturday after the special: Monday', '2026-12-26T12:00:00Z', '2026-12-28T08:00:00.000Z'],
  ])('nextOpening %s', (_n, iso, expected) => {
    expect(cal.nextOpening(d(iso))?.toISOString()).toBe(expected);
  });

  it('business time across a night, a lunch and a holiday', () => {
    // Thu 18:00 local → Mon 10:00 local: Thu 1 h + Fri closed (25th) + Sat 2 h + Mon 1 h
    expect(cal.businessMs(d('2026-12-24T17:00:00Z'), d('2026-12-28T09:00:00Z'))).toBe(4 * 3_600_000);
    expect(cal.businessMs(d('2026-12-21T12:00:00Z'), d('2026-12-21T16:00:00Z'))).toBe(2 * 3_600_000);
    expect(cal.businessMs(d('2026-12-21T16:00:00Z'), d('2026-12-21T12:00:00Z'))).toBe(0);
  });

  it('an SLA deadline in business time skips the night', () => {
    // Mon 18:30 local + 1 h of business time = Tue 09:30 local
    expect(cal.addBusinessMs(d('2026-12-21T17:30:00Z'), 3_600_000)?.toISOString()).toBe('2026-12-22T08:30:00.000Z');
  });

  it('nextClosing spans adjacent intervals across midnight', () => {
    const night = new BusinessCalendar({ timeZone: 'UTC', weekly: { mon: [{ start: '22:00', end: '24:00' }], tue: [{ start: '00:00', end: '06:00' }] } });
    expect(night.nextClosing(d('2026-12-21T23:00:00Z'))?.toISOString()).toBe('2026-12-22T06:00:00.000Z');
    expect(night.isOpen(d('2026-12-22T00:00:00Z'))).toBe(true);
    expect(night.nextClosing(d('2026-12-22T07:00:00Z'))).toBeNull();
  });

  it('DST: the spring-forward night is an hour shorter in business time, the fall-back night an hour longer', () => {
    const allDay = new BusinessCalendar({ timeZone: 'Europe/Madrid', weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((k) => [k, [{ start: '00:00', end: '24:00' }]])) });
    // 2026-03-29: 02:00 → 03:00 local. Local midnight to midnight is 23 h.
    expect(allDay.businessMs(d('2026-03-28T23:00:00Z'), d('2026-03-29T22:00:00Z'))).toBe(23 * 3_600_000);
    // 2026-10-25: 03:00 → 02:00 local. 25 h.
    expect(allDay.businessMs(d('2026-10-24T22:00:00Z'), d('2026-10-25T23:00:00Z'))).toBe(25 * 3_600_000);
    // a shift starting in the gap opens when the clock jumps (02:30 does not exist: 03:00 CEST = 01:00Z),
    // and two intervals around the gap do not overlap (02:15–02:30 is empty, 03:00–04:00 is 1 h)
    const gap = new BusinessCalendar({ timeZone: 'Europe/Madrid', weekly: { sun: [{ start: '02:30', end: '05:00' }] } });
    expect(gap.nextOpening(d('2026-03-29T00:00:00Z'))?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    const split = new BusinessCalendar({ timeZone: 'Europe/Madrid', weekly: { sun: [{ start: '02:15', end: '02:30' }, { start: '03:00', end: '04:00' }] } });
    expect(split.businessMs(d('2026-03-28T00:00:00Z'), d('2026-03-30T00:00:00Z'))).toBe(3_600_000);
    // an ambiguous wall time is the earlier instant
    expect(new Date(instantOf('Europe/Madrid', Date.UTC(2026, 9, 25, 2, 30))).toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });

  it('a calendar that never opens has no next opening', () => {
    const never = new BusinessCalendar({ timeZone: 'UTC', weekly: {} });
    expect(never.nextOpening(d('2026-12-21T00:00:00Z'), 30)).toBeNull();
    expect(never.businessMs(d('2026-12-21T00:00:00Z'), d('2026-12-28T00:00:00Z'))).toBe(0);
  });

  it('a tier without a calendar is always open and counts wall time', () => {
    const hours = new TierHours({ tiers: { '1': madrid } });
    expect(hours.isOpen(2, d('2026-12-25T03:00:00Z'))).toBe(true);
    expect(hours.businessMs(2, d('2026-12-25T03:00:00Z'), d('2026-12-25T04:00:00Z'))).toBe(3_600_000);
    expect(hours.isOpen(1, d('2026-12-25T03:00:00Z'))).toBe(false);
  });

  it.each([
    ['unknown time zone', { ...madrid, timeZone: 'Mars/Olympus' }, 'body.timeZone'],
    ['end before start', { timeZone: 'UTC', weekly: { mon: [{ start: '10:00', end: '09:00' }] } }, 'body.weekly.mon.0'],
    ['overlap', { timeZone: 'UTC', weekly: { mon: [{ start: '09:00', end: '12:00' }, { start: '11:00', end: '13:00' }] } }, 'body.weekly.mon.1'],
    ['no such date', { timeZone: 'UTC', weekly: {}, exceptions: [{ date: '2026-02-30', hours: [] }] }, 'body.exceptions.0.date'],
    ['duplicate date', { timeZone: 'UTC', weekly: {}, exceptions: [{ date: '2026-02-03', hours: [] }, { date: '2026-02-03', hours: [] }] }, 'body.exceptions.1.date'],
  ])('calendarProblems: %s', (_n, c, field) => {
    expect(calendarProblems(c as Calendar).map((p) => p.field)).toContain(field);
  });

  it('the shipped example passes the schema and has no problems', () => {
    expect(Value.Check(BusinessHours, { tiers: { '1': madrid } })).toBe(true);
    expect(calendarProblems(madrid)).toEqual([]);
    expect(Value.Check(Calendar, { ...madrid, weekly: { ...madrid.weekly, mon: [{ start: '24:30', end: '25:00' }] } })).toBe(false);
  });
});

describe('business hours: properties', () => {
  const ZONES = ['UTC', 'Europe/Madrid', 'America/New_York', 'America/Santiago', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Pacific/Chatham', 'America/Mexico_City'];
  const hhmm = (m: number) => (m === 1440 ? '24:00' : `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);
  // a day: sorted distinct cut points in 15-minute steps, paired into disjoint intervals
  const dayHours = fc.uniqueArray(fc.integer({ min: 0, max: 96 }), { maxLength: 6 }).map((cuts) => {
    const s = [...cuts].sort((a, b) => a - b);
    const out: Interval[] = [];
    for (let i = 0; i + 1 < s.length; i += 2) out.push({ start: hhmm(s[i]! * 15), end: hhmm(s[i + 1]! * 15) });
    return out.filter((h) => h.start !== '24:00');
  });
  const calendarArb = fc.record({
    timeZone: fc.constantFrom(...ZONES),
    weekly: fc.record({ mon: dayHours, tue: dayHours, wed: dayHours, thu: dayHours, fri: dayHours, sat: dayHours, sun: dayHours }, { requiredKeys: [] }),
    exceptions: fc.uniqueArray(
      fc.record({ date: fc.integer({ min: 0, max: 60 }).map((k) => new Date(Date.UTC(2026, 2, 1) + k * 86_400_000).toISOString().slice(0, 10)), hours: dayHours }),
      { selector: (x) => x.date, maxLength: 5 },
    ),
  });
  // instants around the 2026 March/April and October DST changes in both hemispheres
  const DST_DAYS = [Date.UTC(2026, 2, 8), Date.UTC(2026, 2, 29), Date.UTC(2026, 3, 5), Date.UTC(2026, 3, 12)];
  const instant = fc.oneof(
    fc.integer({ min: Date.UTC(2026, 2, 1), max: Date.UTC(2026, 4, 1) }),
    fc.tuple(fc.constantFrom(...DST_DAYS), fc.integer({ min: -86_400_000, max: 86_400_000 })).map(([d0, k]) => d0 + k),
  ).map((t) => new Date(t));
  const span = fc.integer({ min: 0, max: 10 * 86_400_000 });

  it('generated calendars are valid', () => {
    fc.assert(fc.property(calendarArb, (c) => calendarProblems(c).length === 0 && Value.Check(Calendar, c)), { numRuns: runs(200) });
  });

  it('business time never exceeds wall time, and is additive', () => {
    fc.assert(
      fc.property(calendarArb, instant, span, span, (c, a, s1, s2) => {
        const k = new BusinessCalendar(c);
        const b = new Date(a.getTime() + s1);
        const e = new Date(b.getTime() + s2);
        const ab = k.businessMs(a, b);
        expect(ab).toBeGreaterThanOrEqual(0);
        expect(ab).toBeLessThanOrEqual(s1);
        expect(k.businessMs(a, e)).toBe(ab + k.businessMs(b, e));
      }),
      { numRuns: runs(300) },
    );
  });

  it('nextOpening is open, not before `at`, and nothing between is open', () => {
    fc.assert(
      fc.property(calendarArb, instant, (c, at) => {
        const k = new BusinessCalendar(c);
        const next = k.nextOpening(at, 120);
        if (next === null) {
          expect(k.businessMs(at, new Date(at.getTime() + 100 * 86_400_000))).toBe(0);
          return;
        }
        expect(next.getTime()).toBeGreaterThanOrEqual(at.getTime());
        expect(k.isOpen(next)).toBe(true);
        expect(k.businessMs(at, next)).toBe(0);
        expect(k.isOpen(at)).toBe(next.getTime() === at.getTime());
      }),
      { numRuns: runs(300) },
    );
  });

  it('isOpen agrees with business time over the next millisecond, and addBusinessMs inverts businessMs', () => {
    fc.assert(
      fc.property(calendarArb, instant, fc.integer({ min: 1, max: 3 * 86_400_000 }), (c, at, ms) => {
        const k = new BusinessCalendar(c);
        expect(k.businessMs(at, new Date(at.getTime() + 1)) === 1).toBe(k.isOpen(at));
        const due = k.addBusinessMs(at, ms, 120);
        if (due) expect(k.businessMs(at, due)).toBe(ms);
      }),
      { numRuns: runs(300) },
    );
  });
});
