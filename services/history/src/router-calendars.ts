import type { Pool } from 'pg';
import { mintAccessToken } from '@omni/auth';
import { Value } from '@sinclair/typebox/value';
import { BusinessHours, TierHours, calendarProblems } from '@omni/business-time';
import type { Logger } from '@omni/logging';
import type { CalendarAt } from './domain/kpis';
import { loadKnownCalendars, recordVersions, type KnownCalendars } from './store/business-hours-versions';

export interface RouterCalendarsOptions {
  pool: Pool;
  /** the router's base URL (ROUTER_URL) */
  routerUrl: string;
  /** signs the short-lived service token (scope business-hours:read) */
  jwtSecret: string;
  timeoutMs: number;
  /** business-time figures are served only from calendars confirmed with the router this recently */
  maxAgeMs: number;
  logger: Pick<Logger, 'warn'>;
}

export type CalendarsAnswer = { ok: true; at: CalendarAt; versions: number[] } | { ok: false; reason: string };

const ALWAYS_OPEN = new TierHours({ tiers: {} });

/** The version in force at an instant: the last period starting at or before it; before any, version 0 (always open, as the router before hours were set). */
export function calendarAt(known: KnownCalendars, compiled: Map<number, TierHours>): CalendarAt {
  const periods = known.periods.map((p) => ({ t: Date.parse(p.fromAt), version: p.version }));
  return (instant) => {
    const t = Date.parse(instant);
    let version = 0;
    for (const p of periods) if (p.t <= t) version = p.version;
    if (version === 0) return { version, hours: ALWAYS_OPEN };
    const hours = compiled.get(version);
    return hours ? { version, hours } : undefined;
  };
}

/**
 * The router's per-tier business hours, for business-time KPIs. The router serves the active
 * version's hours and the list of versions (GET /v1/admin/business-hours[/versions], service scope
 * business-hours:read); versions are immutable, so each one's hours are kept in history's database
 * and compiled once per version. A KPI request re-checks with the router when the last successful
 * check is older than maxAgeMs; if the router cannot be reached then, business time is unavailable
 * (with the reason) rather than computed from calendars that may be stale.
 */
export class RouterCalendars {
  private checkedAt = -Infinity;
  private compiled = new Map<number, TierHours>();
  private known: KnownCalendars | null = null;
  private inflight: Promise<void> | null = null;

  constructor(private readonly o: RouterCalendarsOptions) {}

  private async get(path: string): Promise<unknown> {
    const token = mintAccessToken(this.o.jwtSecret, { sub: 'history', role: 'service', scopes: ['business-hours:read'] }, 60);
    const res = await fetch(`${this.o.routerUrl.replace(/\/$/, '')}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(this.o.timeoutMs) });
    if (!res.ok) throw new Error(`router answered ${res.status} to ${path}`);
    return res.json();
  }

  /** Asks the router, records what is new, recompiles. Throws when the router cannot be asked or answers nonsense. */
  async check(now = new Date()): Promise<void> {
    this.inflight ??= (async () => {
      try {
        const list = (await this.get('/v1/admin/business-hours/versions')) as { versions?: unknown };
        const active = (await this.get('/v1/admin/business-hours')) as { version?: unknown; hours?: unknown };
        if (!Array.isArray(list.versions) || typeof active.version !== 'number' || !Value.Check(BusinessHours, active.hours))
          throw new Error('router answered business hours in an unknown shape');
        const bad = Object.values(active.hours.tiers).flatMap((cal) => (cal ? calendarProblems(cal) : []));
        if (bad.length) throw new Error(`router answered an invalid calendar: ${bad[0]!.field} ${bad[0]!.reason}`);
        const listed = list.versions
          .filter((v): v is { version: number; createdAt: string } => !!v && typeof v.version === 'number' && typeof v.createdAt === 'string' && !Number.isNaN(Date.parse(v.createdAt)))
          .map((v) => ({ version: v.version, createdAt: v.createdAt }));
        await recordVersions(this.o.pool, listed, { version: active.version, hours: active.hours }, now.toISOString());
        this.known = await loadKnownCalendars(this.o.pool);
        for (const [version, hours] of this.known.versions) if (hours && !this.compiled.has(version)) this.compiled.set(version, new TierHours(hours));
        this.checkedAt = Date.now();
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }

  /** The calendars for a KPI request, or why business time is unavailable. Never throws. */
  async forRequest(): Promise<CalendarsAnswer> {
    if (Date.now() - this.checkedAt > this.o.maxAgeMs) {
      try {
        await this.check();
      } catch (err) {
        const reason = `router business hours unavailable: ${(err as Error).message}`;
        this.o.logger.warn({ err: (err as Error).message }, 'business-time KPIs unavailable');
        return { ok: false, reason };
      }
    }
    const known = this.known!;
    return { ok: true, at: calendarAt(known, this.compiled), versions: [...known.versions.keys()].sort((a, b) => a - b) };
  }
}
