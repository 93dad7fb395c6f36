import type { PoolClient } from 'pg';
import { firstBlock, type AgentView } from '../domain/decision-record';
import type { WaitingConversation } from '../domain/match';
import { BASE_STEP } from '../domain/preference';
import { estimateWait, observeHandle, priorRate, type ServiceRate, type WaitEstimate } from '../domain/wait-estimate';
import { AGENT_VIEWS_SQL, toView, type AgentJson } from './agents';
import { preparedQuery } from './prepared';
import { agedPrioritySql, type QueueAgeing } from './conversations';

type Querier = Pick<PoolClient, 'query'>;

export const HANDLE_HALF_LIFE_MS = 30 * 60_000;
export const PRIOR_HANDLE_MS = 5 * 60_000;
const RECENT = 50;
/** the estimator's name on the events that carry an estimate (docs/queue-intelligence.md) */
export const ESTIMATOR = 'queue-length-median';

export type LiveEstimate = WaitEstimate & { slots: number; busy: number; meanHandleMs: number };
export type EstimateTarget = WaitingConversation & { tier: number };
/** The queue order positions are counted in: the time priorities are aged to, and the ageing (absent: off). */
export interface QueueOrder {
  at: Date;
  ageing?: QueueAgeing | undefined;
}

/**
 * The live position and estimated wait of queued conversations (domain/wait-estimate.ts), in two
 * statements whatever their number: the position among the entries ahead in queue order that share
 * one of its tiers (`ahead` adds those not saved yet: arrivals of the same transaction); the slots
 * of the agents online who could take it at its widening step (tier, skills, language; capacity
 * on its channel) and how many of them are taken; the tier's time-decayed mean handle time over its
 * last 50 resolved conversations, handle time being last offer → resolve (the offer decisions' time).
 * Queue order is the match pass's (store/conversations.ts loadMatchable): with priority ageing, the
 * priorities aged at `order.at`, then who has waited longest, then id. One statement; `views`, the
 * agents already read by this transaction (the arrival snapshot), spares it the agents.
 */
export async function estimateWaits(
  client: Querier,
  targets: EstimateTarget[],
  order: QueueOrder,
  ahead: Map<string, number> = new Map(),
  views?: AgentView[],
): Promise<Map<string, LiveEstimate>> {
  const out = new Map<string, LiveEstimate>();
  if (!targets.length) return out;
  const tiers = [...new Set(targets.map((t) => t.tier))];
  const aged = order.ageing && order.ageing.pointsPerMinute > 0;
  // a priority as the queue ranks it: aged to $3 (at most $4, $5 points a minute) when ageing is on
  const rank = (p: string, since: string) => (aged ? agedPrioritySql(p, since, { at: '$3', max: '$4', perMinute: '$5' }) : p);
  const [q2, x] = [rank('q2.priority', 'q2.waiting_since'), rank('x.priority', 'x.since')];
  const { rows } = await client.query<{ positions: Record<string, number> | null; handles: Record<string, { ms: number; at: string }[] | null> | null; agents?: AgentJson[] | null }>(
    preparedQuery(
      `SELECT (SELECT jsonb_object_agg(x.id, (SELECT count(*)::int + 1 FROM router.queue_entries q2
                 WHERE q2.tiers && x.tiers AND q2.conversation_id <> x.id
                   AND (${q2} > ${x} OR (${q2} = ${x} AND (q2.waiting_since, q2.conversation_id) < (x.since, x.id)))))
                 FROM jsonb_to_recordset($1::jsonb) AS x(id text, tiers int[], priority int, since timestamptz)) AS positions,
              (SELECT jsonb_object_agg(t.tier, (SELECT jsonb_agg(jsonb_build_object('ms', h.ms, 'at', h.resolved_at) ORDER BY h.resolved_at) FROM (
                 SELECT extract(epoch FROM c.resolved_at - d.decided_at) * 1000 AS ms, c.resolved_at
                   FROM router.conversations c
                   JOIN LATERAL (SELECT max(decided_at) AS decided_at FROM router.offer_decisions od WHERE od.conversation_id = c.id) d ON d.decided_at IS NOT NULL
                  WHERE c.tier = t.tier AND c.resolved_at IS NOT NULL ORDER BY c.resolved_at DESC LIMIT ${RECENT}) h))
                 FROM unnest($2::int[]) AS t(tier)) AS handles${views ? '' : `,
              (${AGENT_VIEWS_SQL}) AS agents`}`,
      [
        JSON.stringify(targets.map((t) => ({ id: t.conversationId, tiers: t.tiers, priority: t.priority, since: t.waitingSince.toISOString() }))),
        tiers,
        ...(aged ? [order.at, order.ageing!.maxPriority, order.ageing!.pointsPerMinute] : []),
      ],
    ),
  );
  const rates = new Map<number, ServiceRate>();
  for (const tier of tiers) {
    let rate = priorRate(PRIOR_HANDLE_MS, 0);
    for (const h of rows[0]?.handles?.[tier] ?? []) rate = observeHandle(rate, h.ms, new Date(h.at).getTime(), HANDLE_HALF_LIFE_MS);
    rates.set(tier, rate);
  }
  const agents = views ?? (rows[0]?.agents ?? []).map(toView);
  for (const t of targets) {
    const position = (rows[0]?.positions?.[t.conversationId] ?? 1) + (ahead.get(t.conversationId) ?? 0);
    const { slots, busy } = slotsFor(agents, t);
    const meanHandleMs = rates.get(t.tier)!.meanHandleMs;
    out.set(t.conversationId, { ...estimateWait({ position, slots, busy, meanHandleMs }), slots, busy, meanHandleMs: Math.round(meanHandleMs) });
  }
  return out;
}

/** Slots of the agents who could take it but for room on the channel (or having declined it), and how many are taken. */
function slotsFor(agents: AgentView[], w: WaitingConversation): { slots: number; busy: number } {
  let slots = 0;
  let busy = 0;
  for (const a of agents) {
    const cap = a.capacity[w.channel] ?? 0;
    if (cap <= 0) continue;
    if (firstBlock({ ...a, load: {}, wrapUpUntil: null }, { ...w, declined: [] }, w.step ?? BASE_STEP)) continue;
    slots += cap;
    busy += Math.min(cap, a.load[w.channel] ?? 0);
  }
  return { slots, busy };
}

/** The live position and estimate of one queued conversation (GET /v1/conversations/:id). */
export async function liveEstimate(client: Querier, w: EstimateTarget, order: QueueOrder): Promise<LiveEstimate | null> {
  return (await estimateWaits(client, [w], order)).get(w.conversationId) ?? null;
}
