import type { LifecyclePolicy } from '../domain/lifecycle';
import type { ConversationRecord, ReplayResult } from './engine';
import type { DecisionEvent } from './types';

/** What happened to one conversation in a replay, derived from its decisions. */
export interface Outcome {
  id: string;
  openingTier: number;
  finalTier: number;
  category: string;
  /** the agent of the first assignment (null: never assigned in the window) */
  agentId: string | null;
  /** opened → first assignment (ms), null when never assigned */
  waitMs: number | null;
  offers: number;
  escalations: number;
  overflows: number;
  resolved: boolean;
}

export function outcomes(r: ReplayResult): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  for (const rec of r.conversations.values())
    if (rec.openedAt >= r.from)
      out.set(rec.id, { id: rec.id, openingTier: rec.openingTier, finalTier: rec.openingTier, category: rec.category, agentId: null, waitMs: null, offers: 0, escalations: 0, overflows: 0, resolved: false });
  for (const d of r.decisions) {
    const o = out.get(d.conversationId);
    if (!o) continue;
    o.finalTier = d.tier;
    if (d.type === 'conversation.offered') o.offers++;
    else if (d.type === 'conversation.assigned' && o.agentId === null) {
      o.agentId = d.agentId ?? null;
      o.waitMs = d.at - r.conversations.get(d.conversationId)!.openedAt;
    } else if (d.type === 'conversation.escalated') o.escalations++;
    else if (d.type === 'conversation.overflowed') o.overflows++;
    else if (d.type === 'conversation.resolved') o.resolved = true;
  }
  return out;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface TierSummary {
  tier: number;
  volume: number;
  assigned: number;
  waitP50Ms: number | null;
  waitP95Ms: number | null;
  /** share of conversations whose SLA outcome is known (assigned, or waited past the SLA) that were assigned within their tier's SLA */
  slaMetPct: number | null;
  escalations: number;
  overflows: number;
  offersPerConversation: number;
}

export interface Summary {
  config: string;
  conversations: number;
  tiers: TierSummary[];
  escalations: number;
  offersPerConversation: number;
  /** assigned slot-time / online slot-time over all agents */
  occupancyPct: number;
  /** the same per agent, averaged over agents who were online */
  meanAgentOccupancyPct: number;
  unassignedAtEnd: number;
  agentActionsRefused: number;
  behaviour: { recorded: number; modelled: number };
}

const pct = (n: number, d: number) => (d === 0 ? 0 : Math.round((1000 * n) / d) / 10);

export function summarise(r: ReplayResult, policy: LifecyclePolicy): Summary {
  const os = [...outcomes(r).values()];
  const tiers = [...new Set(os.map((o) => o.openingTier))].sort((a, b) => a - b);
  const tierSummaries = tiers.map((tier): TierSummary => {
    const t = os.filter((o) => o.openingTier === tier);
    const waits = t.flatMap((o) => (o.waitMs === null ? [] : [o.waitMs])).sort((a, b) => a - b);
    const sla = policy.slaMsByTier[tier] ?? policy.slaMsByTier[1] ?? 0;
    let known = 0;
    let met = 0;
    for (const o of t) {
      const opened = r.conversations.get(o.id)!.openedAt;
      if (o.waitMs !== null) {
        known++;
        if (o.waitMs <= sla) met++;
      } else if (r.to - opened > sla) known++;
    }
    return {
      tier,
      volume: t.length,
      assigned: waits.length,
      waitP50Ms: quantile(waits, 0.5),
      waitP95Ms: quantile(waits, 0.95),
      slaMetPct: known ? pct(met, known) : null,
      escalations: t.reduce((s, o) => s + o.escalations, 0),
      overflows: t.reduce((s, o) => s + o.overflows, 0),
      offersPerConversation: t.length ? Math.round((100 * t.reduce((s, o) => s + o.offers, 0)) / t.length) / 100 : 0,
    };
  });
  const busy = r.agents.reduce((s, a) => s + a.busySlotMs, 0);
  const slots = r.agents.reduce((s, a) => s + a.slotMs, 0);
  const online = r.agents.filter((a) => a.slotMs > 0);
  return {
    config: r.config,
    conversations: os.length,
    tiers: tierSummaries,
    escalations: os.reduce((s, o) => s + o.escalations, 0),
    offersPerConversation: os.length ? Math.round((100 * os.reduce((s, o) => s + o.offers, 0)) / os.length) / 100 : 0,
    occupancyPct: pct(busy, slots),
    meanAgentOccupancyPct: online.length ? Math.round((10 * online.reduce((s, a) => s + (100 * a.busySlotMs) / a.slotMs, 0)) / online.length) / 10 : 0,
    unassignedAtEnd: os.filter((o) => o.agentId === null).length,
    agentActionsRefused: r.refused.length,
    behaviour: r.behaviour,
  };
}

/** A conversation whose tier, category or agent differs between the two configurations, with both decision records. */
export interface Change {
  conversationId: string;
  what: ('tier' | 'category' | 'agent')[];
  /** the classification changed (a rule change); otherwise only a knock-on effect (who was free when) */
  classificationChanged: boolean;
  baseline: DecisionRecord;
  proposed: DecisionRecord;
}

export interface DecisionRecord {
  tier: number;
  finalTier: number;
  category: string;
  agentId: string | null;
  ruleVersion: number;
  matchedRules: string[];
  decisions: DecisionEvent[];
}

function byConversation(ds: DecisionEvent[]): Map<string, DecisionEvent[]> {
  const m = new Map<string, DecisionEvent[]>();
  for (const d of ds) {
    const l = m.get(d.conversationId);
    if (l) l.push(d);
    else m.set(d.conversationId, [d]);
  }
  return m;
}

function record(rec: ConversationRecord, o: Outcome, ds: DecisionEvent[] | undefined): DecisionRecord {
  return { tier: rec.openingTier, finalTier: o.finalTier, category: rec.category, agentId: o.agentId, ruleVersion: rec.ruleVersion, matchedRules: rec.matchedRules, decisions: ds ?? [] };
}

export function changes(base: ReplayResult, prop: ReplayResult): Change[] {
  const ob = outcomes(base);
  const op = outcomes(prop);
  const db = byConversation(base.decisions);
  const dp = byConversation(prop.decisions);
  const out: Change[] = [];
  for (const id of [...ob.keys()].sort()) {
    const b = ob.get(id)!;
    const p = op.get(id);
    if (!p) continue;
    const what: Change['what'] = [];
    if (b.openingTier !== p.openingTier || b.finalTier !== p.finalTier) what.push('tier');
    if (b.category !== p.category) what.push('category');
    if (b.agentId !== p.agentId) what.push('agent');
    if (what.length === 0) continue;
    const rb = base.conversations.get(id)!;
    const rp = prop.conversations.get(id)!;
    out.push({
      conversationId: id,
      what,
      classificationChanged: rb.openingTier !== rp.openingTier || rb.category !== rp.category,
      baseline: record(rb, b, db.get(id)),
      proposed: record(rp, p, dp.get(id)),
    });
  }
  return out;
}

/** The faithfulness check: recorded decisions against replayed ones, conversation by conversation. */
export interface Faithfulness {
  /** decisions count as the same when their times are this close (live timers fire on the sweep, match passes after commit) */
  toleranceMs: number;
  conversations: number;
  /** conversations opened before the window (replay starts empty): left out of the share, listed here */
  carriedOver: string[];
  reproduced: number;
  sharePct: number;
  differences: { conversationId: string; index: number; recorded?: DecisionEvent; replayed?: DecisionEvent; explanation: string }[];
}

const same = (a: DecisionEvent, b: DecisionEvent, tol: number) =>
  a.type === b.type && Math.abs(a.at - b.at) <= tol && (a.agentId ?? null) === (b.agentId ?? null) && (a.toAgentId ?? null) === (b.toAgentId ?? null) && a.tier === b.tier && (a.category ?? null) === (b.category ?? null);

function explain(r: DecisionEvent | undefined, p: DecisionEvent | undefined, tol: number): string {
  if (!r) return `replay decided ${p!.type} that the recording does not have (the recording ends earlier, or an input that prevented it was not recorded)`;
  if (!p) return `the recording has ${r.type} that replay did not decide (an input behind it was not recorded: presence, capacity or an agent action)`;
  if (r.type === p.type && (r.agentId ?? null) !== (p.agentId ?? null)) return `a different agent: recorded ${r.agentId}, replayed ${p.agentId} (agent availability, load or idle order differed at that moment)`;
  if (r.type === p.type && Math.abs(r.at - p.at) > tol) return `the same decision ${Math.abs(r.at - p.at)} ms apart (live timers fire on the sweep interval; live match passes run after commit)`;
  if (r.type === p.type) return `same decision, different tier/category (a different rule set or customer profile at classification)`;
  return `recorded ${r.type}, replayed ${p.type} at ${Math.abs(r.at - p.at)} ms apart: the state diverged earlier (who was free differed: an agent's presence, capacity or action is missing from or different in the recording)`;
}

export function faithfulness(recorded: DecisionEvent[], replayed: DecisionEvent[], opts: { toleranceMs?: number; until?: number; since?: number } = {}): Faithfulness {
  const tol = opts.toleranceMs ?? 0;
  const until = opts.until ?? Infinity;
  const r = byConversation(recorded.filter((d) => d.at <= until));
  const p = byConversation(replayed.filter((d) => d.at <= until));
  // a conversation the recording has but did not open in the window was carried over from before it
  const carriedOver = [...r.keys()].filter((id) => !r.get(id)!.some((d) => d.type === 'conversation.opened') && !p.has(id)).sort();
  const skip = new Set(carriedOver);
  // opened before `since`: a warm-up conversation, not part of the window
  if (opts.since !== undefined) for (const [id, ds] of r) if (ds.some((d) => d.type === 'conversation.opened' && d.at < opts.since!)) skip.add(id);
  const ids = [...new Set([...r.keys(), ...p.keys()])].filter((id) => !skip.has(id)).sort();
  const differences: Faithfulness['differences'] = [];
  let reproduced = 0;
  for (const id of ids) {
    const a = r.get(id) ?? [];
    const b = p.get(id) ?? [];
    let i = 0;
    while (i < Math.max(a.length, b.length) && a[i] && b[i] && same(a[i]!, b[i]!, tol)) i++;
    if (i === a.length && i === b.length) reproduced++;
    else differences.push({ conversationId: id, index: i, ...(a[i] ? { recorded: a[i] } : {}), ...(b[i] ? { replayed: b[i] } : {}), explanation: explain(a[i], b[i], tol) });
  }
  return { toleranceMs: tol, conversations: ids.length, carriedOver, reproduced, sharePct: ids.length ? Math.round((10000 * reproduced) / ids.length) / 100 : 100, differences };
}

export interface Report {
  window: { from: string; to: string };
  baseline: Summary;
  proposed: Summary;
  changed: Change[];
  changedCounts: { total: number; classification: number; knockOn: number };
  faithfulness?: Faithfulness;
}

export function compare(base: ReplayResult, prop: ReplayResult, basePolicy: LifecyclePolicy, propPolicy: LifecyclePolicy, recorded?: DecisionEvent[], opts: { toleranceMs?: number } = {}): Report {
  const changed = changes(base, prop);
  const classification = changed.filter((c) => c.classificationChanged).length;
  return {
    window: { from: new Date(base.from).toISOString(), to: new Date(base.to).toISOString() },
    baseline: summarise(base, basePolicy),
    proposed: summarise(prop, propPolicy),
    changed,
    changedCounts: { total: changed.length, classification, knockOn: changed.length - classification },
    ...(recorded ? { faithfulness: faithfulness(recorded, base.decisions, { until: base.to, since: base.from, toleranceMs: opts.toleranceMs ?? 0 }) } : {}),
  };
}

const ms = (v: number | null) => (v === null ? '–' : v < 1000 ? `${v} ms` : v < 120_000 ? `${(v / 1000).toFixed(1)} s` : `${(v / 60_000).toFixed(1)} min`);

/** The report as text: the two configurations side by side, then the changed conversations. */
export function renderReport(r: Report, maxChanges = 50): string {
  const lines: string[] = [];
  lines.push(`Replay ${r.window.from} → ${r.window.to}`);
  if (r.faithfulness) lines.push(`Faithfulness (baseline vs recorded): ${r.faithfulness.reproduced}/${r.faithfulness.conversations} conversations reproduced (${r.faithfulness.sharePct} %; same decisions in the same order, times within ${r.faithfulness.toleranceMs} ms)${r.faithfulness.carriedOver.length ? `; ${r.faithfulness.carriedOver.length} conversations opened before the window left out` : ''}`);
  for (const d of r.faithfulness?.differences.slice(0, 20) ?? []) lines.push(`  ${d.conversationId} @${d.index}: ${d.explanation}`);
  lines.push('');
  lines.push(`| | ${r.baseline.config} | ${r.proposed.config} |`);
  lines.push('|---|---|---|');
  const row = (k: string, a: unknown, b: unknown) => lines.push(`| ${k} | ${String(a)} | ${String(b)} |`);
  row('conversations', r.baseline.conversations, r.proposed.conversations);
  const tiers = [...new Set([...r.baseline.tiers, ...r.proposed.tiers].map((t) => t.tier))].sort();
  for (const t of tiers) {
    const a = r.baseline.tiers.find((x) => x.tier === t);
    const b = r.proposed.tiers.find((x) => x.tier === t);
    row(`tier ${t} volume`, a?.volume ?? 0, b?.volume ?? 0);
    row(`tier ${t} wait p50 / p95`, `${ms(a?.waitP50Ms ?? null)} / ${ms(a?.waitP95Ms ?? null)}`, `${ms(b?.waitP50Ms ?? null)} / ${ms(b?.waitP95Ms ?? null)}`);
    row(`tier ${t} SLA met`, a?.slaMetPct === null || !a ? '–' : `${a.slaMetPct} %`, b?.slaMetPct === null || !b ? '–' : `${b.slaMetPct} %`);
    row(`tier ${t} escalations / overflows`, `${a?.escalations ?? 0} / ${a?.overflows ?? 0}`, `${b?.escalations ?? 0} / ${b?.overflows ?? 0}`);
  }
  row('escalations', r.baseline.escalations, r.proposed.escalations);
  row('offers per conversation', r.baseline.offersPerConversation, r.proposed.offersPerConversation);
  row('agent occupancy (all / mean per agent)', `${r.baseline.occupancyPct} % / ${r.baseline.meanAgentOccupancyPct} %`, `${r.proposed.occupancyPct} % / ${r.proposed.meanAgentOccupancyPct} %`);
  row('unassigned at window end', r.baseline.unassignedAtEnd, r.proposed.unassignedAtEnd);
  row('agent answers recorded / modelled', `${r.baseline.behaviour.recorded} / ${r.baseline.behaviour.modelled}`, `${r.proposed.behaviour.recorded} / ${r.proposed.behaviour.modelled}`);
  lines.push('');
  lines.push(`Changed conversations: ${r.changedCounts.total} (${r.changedCounts.classification} by classification, ${r.changedCounts.knockOn} knock-on: another agent was free)`);
  for (const c of r.changed.slice(0, maxChanges))
    lines.push(
      `  ${c.conversationId} [${c.what.join(',')}] tier ${c.baseline.tier}→${c.proposed.tier}, ${c.baseline.category}→${c.proposed.category}, agent ${c.baseline.agentId ?? '–'}→${c.proposed.agentId ?? '–'}; rules ${c.baseline.matchedRules.join('+') || 'default'}→${c.proposed.matchedRules.join('+') || 'default'}`,
    );
  if (r.changed.length > maxChanges) lines.push(`  … ${r.changed.length - maxChanges} more in the JSON report`);
  return lines.join('\n');
}
