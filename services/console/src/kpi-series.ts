/** The subset of history's GET /v1/kpis answer the wallboard charts. */
export interface KpiAnswer {
  conversations: number;
  resolved: number;
  firstContactResolution: { rate: number | null };
  firstResponseTime: { p50Ms: number | null };
  resolutionTime: { p50Ms: number | null };
  escalation: { rate: number | null; byTier: { tier: number; handled: number; escalated: number; rate: number | null }[]; paths: { fromTier: number | null; toTier: number; count: number }[] };
  queueWait: { tier: number; count: number; p50Ms: number | null; p95Ms: number | null }[];
  csat: { average: number | null; responses: number };
}

/** One point of a wallboard chart: the KPIs of conversations opened in one hour of today. */
export interface HourPoint {
  /** start of the hour, epoch seconds (uPlot's x unit) */
  t: number;
  conversations: number;
  fcrRate: number | null;
  firstResponseP50Ms: number | null;
  resolutionP50Ms: number | null;
  escalationRate: number | null;
  queueWaitP50Ms: number | null;
  queueWaitP95Ms: number | null;
  csat: number | null;
}

/** Start of the UTC day containing `now`, and the start of each hour from then up to `now`. */
export function hoursOfToday(now: Date): Date[] {
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const out: Date[] = [];
  for (let t = day; t <= now.getTime(); t += 3_600_000) out.push(new Date(t));
  return out;
}

/** The highest p50/p95 queue wait over tiers that waited at all (the wallboard shows the worst tier). */
function worst(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => typeof x === 'number');
  return v.length ? Math.max(...v) : null;
}

/** A chart point from one hour's KPI answer. */
export function hourPoint(hourStart: Date, k: KpiAnswer): HourPoint {
  return {
    t: Math.floor(hourStart.getTime() / 1000),
    conversations: k.conversations,
    fcrRate: k.firstContactResolution.rate,
    firstResponseP50Ms: k.firstResponseTime.p50Ms,
    resolutionP50Ms: k.resolutionTime.p50Ms,
    escalationRate: k.escalation.rate,
    queueWaitP50Ms: worst(k.queueWait.map((q) => q.p50Ms)),
    queueWaitP95Ms: worst(k.queueWait.map((q) => q.p95Ms)),
    csat: k.csat.average,
  };
}
