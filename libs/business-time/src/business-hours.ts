import { Type, type Static } from '@sinclair/typebox';

/**
 * Business hours of a tier queue, pure: a calendar in an IANA time zone with weekly hours (split
 * shifts are several intervals a day) and dated exceptions (a closure is an exception with no
 * hours; a special opening replaces that day's hours). Local wall times are turned into instants
 * with Intl only (no Temporal, no dependency): a wall time that does not exist (the spring-forward
 * gap) is the instant the clock jumps (so the mapping stays monotone); a wall time that
 * happens twice (fall back) is the earlier instant. Intervals are [start, end) in local time,
 * 00:00 ≤ start < end ≤ 24:00; a shift across midnight is two intervals (…–24:00, 00:00–…).
 */

const HHMM = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$' });
export const Interval = Type.Object({ start: HHMM, end: HHMM }, { additionalProperties: false });
export type Interval = Static<typeof Interval>;

const DayHours = Type.Array(Interval, { maxItems: 12 });
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const Calendar = Type.Object(
  {
    timeZone: Type.String({ minLength: 1, maxLength: 64 }),
    /** weekly hours by day; a missing day is closed */
    weekly: Type.Object(
      {
        mon: Type.Optional(DayHours),
        tue: Type.Optional(DayHours),
        wed: Type.Optional(DayHours),
        thu: Type.Optional(DayHours),
        fri: Type.Optional(DayHours),
        sat: Type.Optional(DayHours),
        sun: Type.Optional(DayHours),
      },
      { additionalProperties: false },
    ),
    /** dated exceptions in local dates: `hours: []` closes the day (holiday), other hours replace the week's */
    exceptions: Type.Optional(
      Type.Array(
        Type.Object(
          {
            date: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' }),
            hours: DayHours,
            note: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        { maxItems: 1000 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Calendar = Static<typeof Calendar>;

/** Per-tier calendars ("1" … "5"); a tier without one is always open. */
export const BusinessHours = Type.Object(
  {
    tiers: Type.Object(
      { '1': Type.Optional(Calendar), '2': Type.Optional(Calendar), '3': Type.Optional(Calendar), '4': Type.Optional(Calendar), '5': Type.Optional(Calendar) },
      { additionalProperties: false },
    ),
  },
  { $id: 'BusinessHours', additionalProperties: false },
);
export type BusinessHours = Static<typeof BusinessHours>;

const DAY_MS = 86_400_000;
const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Problems a schema cannot see: unknown time zone, empty or overlapping intervals, impossible or repeated dates. */
export function calendarProblems(cal: Calendar, field = 'body'): { field: string; reason: string }[] {
  const out: { field: string; reason: string }[] = [];
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: cal.timeZone });
  } catch {
    out.push({ field: `${field}.timeZone`, reason: `unknown time zone ${cal.timeZone}` });
  }
  const checkDay = (hours: Interval[], f: string) => {
    const sorted = hours.map((h, i) => ({ s: minutesOf(h.start), e: minutesOf(h.end), i })).sort((a, b) => a.s - b.s);
    for (const h of sorted) if (h.e <= h.s) out.push({ field: `${f}.${h.i}`, reason: 'end must be after start (split a shift across midnight in two)' });
    for (let k = 1; k < sorted.length; k++)
      if (sorted[k]!.s < sorted[k - 1]!.e) out.push({ field: `${f}.${sorted[k]!.i}`, reason: 'overlaps another interval of the day' });
  };
  for (const d of WEEKDAYS) if (cal.weekly[d]) checkDay(cal.weekly[d]!, `${field}.weekly.${d}`);
  const seen = new Set<string>();
  (cal.exceptions ?? []).forEach((x, i) => {
    const [y, m, dd] = x.date.split('-').map(Number) as [number, number, number];
    const d = new Date(Date.UTC(y, m - 1, dd));
    if (d.getUTCMonth() !== m - 1) out.push({ field: `${field}.exceptions.${i}.date`, reason: `no such date ${x.date}` });
    if (seen.has(x.date)) out.push({ field: `${field}.exceptions.${i}.date`, reason: `duplicate date ${x.date}` });
    seen.add(x.date);
    checkDay(x.hours, `${field}.exceptions.${i}.hours`);
  });
  return out;
}

// ---- time zone arithmetic with Intl ----

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local wall time of an instant, as milliseconds of a UTC clock showing that wall time. */
function wallMs(timeZone: string, instant: number): number {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const secondMs = instant - Math.floor(instant / 1000) * 1000;
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) + secondMs;
}

const offsetAt = (timeZone: string, instant: number): number => wallMs(timeZone, instant) - instant;

/** The instant a local wall time names (gap: the instant of the jump; overlap: the earlier one). Monotone in `wall`. */
export function instantOf(timeZone: string, wall: number): number {
  const before = offsetAt(timeZone, wall - DAY_MS / 2);
  const after = offsetAt(timeZone, wall + DAY_MS / 2);
  const candidates = [wall - before, wall - after].filter((t) => offsetAt(timeZone, t) === wall - t);
  if (candidates.length) return Math.min(...candidates);
  // In the gap (the clock jumped over this wall time): the instant of the jump. Temporal's
  // 'compatible' (wall - before) would not be monotone — 02:30 would come after 03:00 — and two
  // intervals of one day could overlap and count business time twice.
  let lo = wall - after;
  let hi = wall - before;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(timeZone, mid) === after) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Local date (as the UTC midnight of that date) of an instant. */
const localDay = (timeZone: string, instant: number): number => Math.floor(wallMs(timeZone, instant) / DAY_MS) * DAY_MS;

const isoDate = (day: number): string => new Date(day).toISOString().slice(0, 10);
const weekdayOf = (day: number): Weekday => WEEKDAYS[(new Date(day).getUTCDay() + 6) % 7]!;

// days whose open intervals a calendar remembers (a KPI query asks about the same few weeks for
// thousands of spans; turning wall times into instants with Intl is the expensive part)
const DAY_CACHE_MAX = 4096;

/** A compiled calendar: exceptions by date, ready for repeated questions. */
export class BusinessCalendar {
  private readonly exceptions: Map<string, Interval[]>;
  private readonly days = new Map<number, [number, number][]>();
  constructor(readonly cal: Calendar) {
    this.exceptions = new Map((cal.exceptions ?? []).map((x) => [x.date, x.hours]));
  }

  /** Hours of one local day (exception first, else the weekly hours). */
  hoursOn(day: number): Interval[] {
    return this.exceptions.get(isoDate(day)) ?? this.cal.weekly[weekdayOf(day)] ?? [];
  }

  /** The open intervals of one local day as instants [start, end), in order (remembered per day; do not modify the result). */
  intervalsOn(day: number): [number, number][] {
    let out = this.days.get(day);
    if (!out) {
      if (this.days.size >= DAY_CACHE_MAX) this.days.clear();
      out = this.computeIntervals(day);
      this.days.set(day, out);
    }
    return out;
  }

  private computeIntervals(day: number): [number, number][] {
    return this.hoursOn(day)
      .map((h) => [instantOf(this.cal.timeZone, day + minutesOf(h.start) * 60_000), instantOf(this.cal.timeZone, day + minutesOf(h.end) * 60_000)] as [number, number])
      .filter(([s, e]) => e > s)
      .sort((a, b) => a[0] - b[0]);
  }

  isOpen(at: Date): boolean {
    const t = at.getTime();
    // the interval holding t starts on t's local day or (DST shifts aside) the day before
    const day = localDay(this.cal.timeZone, t);
    return [day - DAY_MS, day].some((d) => this.intervalsOn(d).some(([s, e]) => s <= t && t < e));
  }

  /** The first open instant at or after `at`; null if the calendar does not open within `horizonDays`. */
  nextOpening(at: Date, horizonDays = 800): Date | null {
    const t = at.getTime();
    const first = localDay(this.cal.timeZone, t) - DAY_MS;
    for (let d = first; d <= first + horizonDays * DAY_MS; d += DAY_MS)
      for (const [s, e] of this.intervalsOn(d)) {
        if (e <= t) continue;
        return new Date(Math.max(s, t));
      }
    return null;
  }

  /** The first closing instant after `at` if open now (the end of the current run of open time, across adjacent intervals); null when closed. */
  nextClosing(at: Date, horizonDays = 800): Date | null {
    if (!this.isOpen(at)) return null;
    let t = at.getTime();
    const first = localDay(this.cal.timeZone, t) - DAY_MS;
    for (let d = first; d <= first + horizonDays * DAY_MS; d += DAY_MS)
      for (const [s, e] of this.intervalsOn(d)) {
        if (e <= t) continue;
        if (s > t) return new Date(t);
        t = e;
      }
    return new Date(t);
  }

  /** Business time (ms) between two instants: the part of [from, to) inside open hours; 0 if to ≤ from. */
  businessMs(from: Date, to: Date): number {
    const a = from.getTime();
    const b = to.getTime();
    if (b <= a) return 0;
    let sum = 0;
    const last = localDay(this.cal.timeZone, b);
    for (let d = localDay(this.cal.timeZone, a) - DAY_MS; d <= last; d += DAY_MS)
      for (const [s, e] of this.intervalsOn(d)) sum += Math.max(0, Math.min(e, b) - Math.max(s, a));
    return sum;
  }

  /** The instant when `ms` of business time have passed after `from` (an SLA deadline in business time); null beyond the horizon. */
  addBusinessMs(from: Date, ms: number, horizonDays = 800): Date | null {
    let left = ms;
    const a = from.getTime();
    const first = localDay(this.cal.timeZone, a) - DAY_MS;
    for (let d = first; d <= first + horizonDays * DAY_MS; d += DAY_MS)
      for (const [s, e] of this.intervalsOn(d)) {
        const start = Math.max(s, a);
        if (e <= start) continue;
        if (e - start >= left) return new Date(start + left);
        left -= e - start;
      }
    return null;
  }
}

/** The calendars of the tiers, compiled once per version; a tier without a calendar is always open. */
export class TierHours {
  private readonly byTier = new Map<number, BusinessCalendar>();
  constructor(hours: BusinessHours) {
    for (const [tier, cal] of Object.entries(hours.tiers)) if (cal) this.byTier.set(Number(tier), new BusinessCalendar(cal));
  }
  calendar(tier: number): BusinessCalendar | undefined {
    return this.byTier.get(tier);
  }
  isOpen(tier: number, at: Date): boolean {
    return this.byTier.get(tier)?.isOpen(at) ?? true;
  }
  nextOpening(tier: number, at: Date): Date | null {
    const c = this.byTier.get(tier);
    return c ? c.nextOpening(at) : at;
  }
  businessMs(tier: number, from: Date, to: Date): number {
    const c = this.byTier.get(tier);
    return c ? c.businessMs(from, to) : Math.max(0, to.getTime() - from.getTime());
  }
}
