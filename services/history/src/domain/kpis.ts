import type { TierHours } from '@omni/business-time';
import type { WaitEstimateRecord } from './conversation-projection';

/** The facts about one conversation that the support KPIs are computed from. */
export interface KpiConversation {
  id: string;
  channel: string;
  category: string | null;
  firstTier: number | null;
  resolvedTier: number | null;
  tierPath: number[];
  escalations: { fromTier: number | null; toTier: number }[];
  queueWaits: { tier: number; ms: number; queuedAt?: string; servedAt?: string }[];
  openedAt: string | null;
  firstResponseAt: string | null;
  resolvedAt: string | null;
  csatScore: number | null;
  /** a new conversation from the same customer (any channel) within the recontact window */
  recontacted: boolean;
  waitEstimate: WaitEstimateRecord | null;
  selfServiceOffered: boolean;
  /** resolved (and still so) with reason `self-served` */
  selfServed: boolean;
}

export interface Durations {
  count: number;
  averageMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface Kpis {
  conversations: number;
  resolved: number;
  firstContactResolution: { rate: number | null; count: number; of: number };
  firstResponseTime: Durations;
  resolutionTime: Durations;
  escalation: {
    rate: number | null;
    escalated: number;
    of: number;
    byTier: { tier: number; handled: number; escalated: number; rate: number | null }[];
    paths: { fromTier: number | null; toTier: number; count: number }[];
  };
  queueWait: ({ tier: number } & Durations)[];
  tier1Resolution: { share: number | null; count: number; of: number };
  csat: { average: number | null; responses: number; responseRate: number | null; of: number };
}

export interface CategoryKpi {
  category: string;
  conversations: number;
  escalated: number;
  escalationRate: number | null;
  resolved: number;
  recontacted: number;
  recontactRate: number | null;
  selfServiceOffered: number;
  selfServed: number;
  /** self-served ÷ offered self-service */
  deflectionRate: number | null;
}

const ratio = (n: number, d: number): number | null => (d === 0 ? null : n / d);

/** Nearest-rank percentile (the smallest value with at least q of the values at or below it). */
export function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

export function durations(values: number[]): Durations {
  return {
    count: values.length,
    averageMs: values.length ? values.reduce((a, b) => a + b, 0) / values.length : null,
    p50Ms: percentile(values, 0.5),
    p95Ms: percentile(values, 0.95),
  };
}

const span = (from: string | null, to: string | null): number | null => (from && to ? Date.parse(to) - Date.parse(from) : null);

/**
 * First-contact resolution: resolved at the tier it entered, never escalated, and no new
 * conversation from the same customer within the window. Rates whose denominator is "resolved"
 * (FCR, tier-1 share, CSAT response rate) ignore conversations still open, which have not had the
 * chance to be resolved yet.
 */
export function isFirstContactResolution(c: KpiConversation): boolean {
  return c.resolvedAt !== null && c.escalations.length === 0 && c.resolvedTier !== null && c.resolvedTier === c.firstTier && !c.recontacted;
}

export function computeKpis(list: KpiConversation[]): Kpis {
  const resolved = list.filter((c) => c.resolvedAt !== null);
  const fcr = resolved.filter(isFirstContactResolution).length;
  const firstResponse = list.map((c) => span(c.openedAt, c.firstResponseAt)).filter((v): v is number => v !== null);
  const resolution = resolved.map((c) => span(c.openedAt, c.resolvedAt)).filter((v): v is number => v !== null);
  const escalated = list.filter((c) => c.escalations.length > 0).length;

  const tiers = [...new Set(list.flatMap((c) => c.tierPath))].sort((a, b) => a - b);
  const byTier = tiers.map((tier) => {
    const handled = list.filter((c) => c.tierPath.includes(tier)).length;
    const out = list.filter((c) => c.escalations.some((e) => e.fromTier === tier)).length;
    return { tier, handled, escalated: out, rate: ratio(out, handled) };
  });
  const pathCount = new Map<string, { fromTier: number | null; toTier: number; count: number }>();
  for (const c of list)
    for (const e of c.escalations) {
      const k = `${e.fromTier}>${e.toTier}`;
      const p = pathCount.get(k) ?? { fromTier: e.fromTier, toTier: e.toTier, count: 0 };
      p.count++;
      pathCount.set(k, p);
    }
  const paths = [...pathCount.values()].sort((a, b) => b.count - a.count || (a.fromTier ?? 0) - (b.fromTier ?? 0) || a.toTier - b.toTier);

  const waitTiers = [...new Set(list.flatMap((c) => c.queueWaits.map((w) => w.tier)))].sort((a, b) => a - b);
  const queueWait = waitTiers.map((tier) => ({ tier, ...durations(list.flatMap((c) => c.queueWaits.filter((w) => w.tier === tier).map((w) => w.ms))) }));

  const tier1 = resolved.filter((c) => c.resolvedTier === 1).length;
  const scores = list.map((c) => c.csatScore).filter((s): s is number => s !== null);
  return {
    conversations: list.length,
    resolved: resolved.length,
    firstContactResolution: { rate: ratio(fcr, resolved.length), count: fcr, of: resolved.length },
    firstResponseTime: durations(firstResponse),
    resolutionTime: durations(resolution),
    escalation: { rate: ratio(escalated, list.length), escalated, of: list.length, byTier, paths },
    queueWait,
    tier1Resolution: { share: ratio(tier1, resolved.length), count: tier1, of: resolved.length },
    csat: {
      average: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
      responses: scores.length,
      responseRate: ratio(scores.length, resolved.length),
      of: resolved.length,
    },
  };
}

/** Recurring problems: per category, volume, escalation rate and recontact rate; sorted by volume. */
export function computeCategoryKpis(list: KpiConversation[]): CategoryKpi[] {
  const groups = new Map<string, KpiConversation[]>();
  for (const c of list) {
    const k = c.category ?? 'uncategorised';
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  return [...groups]
    .map(([category, cs]) => {
      const escalated = cs.filter((c) => c.escalations.length > 0).length;
      const resolved = cs.filter((c) => c.resolvedAt !== null);
      const recontacted = resolved.filter((c) => c.recontacted).length;
      return {
        category,
        conversations: cs.length,
        escalated,
        escalationRate: ratio(escalated, cs.length),
        resolved: resolved.length,
        recontacted,
        recontactRate: ratio(recontacted, resolved.length),
        selfServiceOffered: cs.filter((c) => c.selfServiceOffered).length,
        selfServed: cs.filter((c) => c.selfServed).length,
        deflectionRate: ratio(cs.filter((c) => c.selfServed).length, cs.filter((c) => c.selfServiceOffered).length),
      };
    })
    .sort((a, b) => b.conversations - a.conversations || a.category.localeCompare(b.category));
}

// ---- business time and SLA (issue 17) ----

export interface SlaTargets {
  firstResponseMs: number;
  resolutionMs: number;
}

/** The tier calendars in force at an instant (version and compiled hours); undefined when history does not know that version's hours. */
export type CalendarAt = (instant: string) => { version: number; hours: TierHours } | undefined;

export interface SlaRate {
  met: number;
  of: number;
  rate: number | null;
}

export interface TierSla {
  tier: number;
  conversations: number;
  firstResponseTime: { wall: Durations; business: Durations | null };
  resolutionTime: { wall: Durations; business: Durations | null };
  queueWait: { wall: Durations; business: Durations | null };
  slaMet: { firstResponse: { wall: SlaRate; business: SlaRate | null }; resolution: { wall: SlaRate; business: SlaRate | null } };
  /** conversations whose calendar version history does not know: left out of the business figures */
  businessUnknown: number;
}

const rate = (met: number, of: number): SlaRate => ({ met, of, rate: ratio(met, of) });

/**
 * One SLA clock: stops at `stop` (first response, resolution); a clock still running at `at` that is
 * already past the target counts as missed, one still within it is not counted yet, and a clock
 * that can no longer stop (`moot`: resolved without a response) is not counted.
 */
function clock(elapsedStopped: number | null, elapsedNow: number | null, target: number): 'met' | 'missed' | null {
  if (elapsedStopped !== null) return elapsedStopped <= target ? 'met' : 'missed';
  if (elapsedNow !== null && elapsedNow > target) return 'missed';
  return null;
}

/**
 * Per entry tier: first response, resolution and queue wait in wall-clock and business time, and
 * the share of SLA clocks met in both. Business time uses the calendar version in force when the
 * conversation opened, for all its clocks (docs/history.md); `calendars` null = business time
 * unavailable (the router could not be asked), and every business figure is null.
 */
export function computeTierSla(list: KpiConversation[], targets: SlaTargets, calendars: CalendarAt | null, at: string): TierSla[] {
  const now = Date.parse(at);
  const tiers = [...new Set(list.map((c) => c.firstTier).filter((t): t is number => t !== null))].sort((a, b) => a - b);
  return tiers.map((tier) => {
    const cs = list.filter((c) => c.firstTier === tier && c.openedAt !== null);
    const wall = { fr: [] as number[], res: [] as number[], wait: [] as number[] };
    const biz = { fr: [] as number[], res: [] as number[], wait: [] as number[] };
    const met = { wfr: [0, 0], wres: [0, 0], bfr: [0, 0], bres: [0, 0] };
    let unknown = 0;
    const count = (slot: number[], v: 'met' | 'missed' | null) => {
      if (v === null) return;
      slot[1]!++;
      if (v === 'met') slot[0]!++;
    };
    for (const c of cs) {
      const opened = Date.parse(c.openedAt!);
      const fr = c.firstResponseAt ? Date.parse(c.firstResponseAt) : null;
      const res = c.resolvedAt ? Date.parse(c.resolvedAt) : null;
      const waits = c.queueWaits.filter((w) => w.queuedAt && w.servedAt);
      if (fr !== null) wall.fr.push(fr - opened);
      if (res !== null) wall.res.push(res - opened);
      for (const w of waits) wall.wait.push(Date.parse(w.servedAt!) - Date.parse(w.queuedAt!));
      const frMoot = fr === null && res !== null;
      count(met.wfr, frMoot ? null : clock(fr !== null ? fr - opened : null, now - opened, targets.firstResponseMs));
      count(met.wres, clock(res !== null ? res - opened : null, now - opened, targets.resolutionMs));
      if (!calendars) continue;
      const cal = calendars(c.openedAt!);
      if (!cal) {
        unknown++;
        continue;
      }
      const b = (a: number, z: number) => cal.hours.businessMs(tier, new Date(a), new Date(z));
      const bfr = fr !== null ? b(opened, fr) : null;
      const bres = res !== null ? b(opened, res) : null;
      if (bfr !== null) biz.fr.push(bfr);
      if (bres !== null) biz.res.push(bres);
      for (const w of waits) biz.wait.push(cal.hours.businessMs(w.tier, new Date(w.queuedAt!), new Date(w.servedAt!)));
      // business time elapsed so far, only for a clock still running
      const bnow = (fr === null && !frMoot) || res === null ? (now > opened ? b(opened, now) : 0) : null;
      count(met.bfr, frMoot ? null : clock(bfr, bnow, targets.firstResponseMs));
      count(met.bres, clock(bres, bnow, targets.resolutionMs));
    }
    const on = calendars !== null;
    return {
      tier,
      conversations: cs.length,
      firstResponseTime: { wall: durations(wall.fr), business: on ? durations(biz.fr) : null },
      resolutionTime: { wall: durations(wall.res), business: on ? durations(biz.res) : null },
      queueWait: { wall: durations(wall.wait), business: on ? durations(biz.wait) : null },
      slaMet: {
        firstResponse: { wall: rate(met.wfr[0]!, met.wfr[1]!), business: on ? rate(met.bfr[0]!, met.bfr[1]!) : null },
        resolution: { wall: rate(met.wres[0]!, met.wres[1]!), business: on ? rate(met.bres[0]!, met.bres[1]!) : null },
      },
      businessUnknown: unknown,
    };
  });
}

// ---- wait-estimate accuracy (issue 17) ----

export interface EstimateError {
  tier: number;
  /** conversations with an estimate at queueing and a served wait */
  count: number;
  medianAbsErrorMs: number | null;
  p90AbsErrorMs: number | null;
  /** |estimate − actual| ÷ actual, over the `relativeCount` waits longer than 0 ms */
  medianRelativeError: number | null;
  p90RelativeError: number | null;
  relativeCount: number;
  estimators: { estimator: string; count: number }[];
}

/** Median and p90 absolute error of the estimate given at queueing, per tier of that queueing (nearest rank). */
export function computeEstimateError(list: KpiConversation[]): EstimateError[] {
  const served = list.map((c) => c.waitEstimate).filter((e): e is WaitEstimateRecord & { actualMs: number } => e !== null && e.actualMs !== null);
  const tiers = [...new Set(served.map((e) => e.tier))].sort((a, b) => a - b);
  return tiers.map((tier) => {
    const es = served.filter((e) => e.tier === tier);
    const abs = es.map((e) => Math.abs(e.estimateMs - e.actualMs));
    const rel = es.filter((e) => e.actualMs > 0).map((e) => Math.abs(e.estimateMs - e.actualMs) / e.actualMs);
    const by = new Map<string, number>();
    for (const e of es) by.set(e.estimator, (by.get(e.estimator) ?? 0) + 1);
    return {
      tier,
      count: es.length,
      medianAbsErrorMs: percentile(abs, 0.5),
      p90AbsErrorMs: percentile(abs, 0.9),
      medianRelativeError: percentile(rel, 0.5),
      p90RelativeError: percentile(rel, 0.9),
      relativeCount: rel.length,
      estimators: [...by].map(([estimator, count]) => ({ estimator, count })).sort((a, b) => b.count - a.count || a.estimator.localeCompare(b.estimator)),
    };
  });
}

// ---- deflection (issue 18) ----

export interface DeflectionGroup {
  conversations: number;
  offered: number;
  selfServed: number;
  /** self-served ÷ offered self-service */
  rateOfOffered: number | null;
  /** self-served ÷ all conversations of the group */
  rateOfAll: number | null;
}

function deflectionOf(cs: KpiConversation[]): DeflectionGroup {
  const offered = cs.filter((c) => c.selfServiceOffered).length;
  const selfServed = cs.filter((c) => c.selfServed).length;
  return { conversations: cs.length, offered, selfServed, rateOfOffered: ratio(selfServed, offered), rateOfAll: ratio(selfServed, cs.length) };
}

function groupBy(list: KpiConversation[], key: (c: KpiConversation) => string): [string, KpiConversation[]][] {
  const m = new Map<string, KpiConversation[]>();
  for (const c of list) {
    const k = key(c);
    const g = m.get(k);
    if (g) g.push(c);
    else m.set(k, [c]);
  }
  return [...m].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
}

/** Deflection (self-served share) overall, per category and per channel. */
export function computeDeflection(list: KpiConversation[]): DeflectionGroup & { byCategory: (DeflectionGroup & { category: string })[]; byChannel: (DeflectionGroup & { channel: string })[] } {
  return {
    ...deflectionOf(list),
    byCategory: groupBy(list, (c) => c.category ?? 'uncategorised').map(([category, cs]) => ({ category, ...deflectionOf(cs) })),
    byChannel: groupBy(list, (c) => c.channel).map(([channel, cs]) => ({ channel, ...deflectionOf(cs) })),
  };
}
