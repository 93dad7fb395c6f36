/** The facts about one conversation that the support KPIs are computed from. */
export interface KpiConversation {
  id: string;
  channel: string;
  category: string | null;
  firstTier: number | null;
  resolvedTier: number | null;
  tierPath: number[];
  escalations: { fromTier: number | null; toTier: number }[];
  queueWaits: { tier: number; ms: number }[];
  openedAt: string | null;
  firstResponseAt: string | null;
  resolvedAt: string | null;
  csatScore: number | null;
  /** a new conversation from the same customer (any channel) within the recontact window */
  recontacted: boolean;
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
      };
    })
    .sort((a, b) => b.conversations - a.conversations || a.category.localeCompare(b.category));
}
