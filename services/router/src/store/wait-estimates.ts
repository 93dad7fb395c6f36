import type { PoolClient } from 'pg';
import { firstBlock } from '../domain/decision-record';
import type { WaitingConversation } from '../domain/match';
import { BASE_STEP } from '../domain/preference';
import { estimateWait, observeHandle, priorRate, type WaitEstimate } from '../domain/wait-estimate';
import { loadAgentViews } from './offer-decisions';

type Querier = Pick<PoolClient, 'query'>;

export const HANDLE_HALF_LIFE_MS = 30 * 60_000;
export const PRIOR_HANDLE_MS = 5 * 60_000;
const RECENT = 50;

/**
 * The live position and estimated wait of a queued conversation (domain/wait-estimate.ts): the
 * position among the entries ahead of it in queue order that share one of its tiers; the slots of
 * the agents online who could take it (tier, skills, language; capacity on its channel) and how
 * many of them are taken; the tier's time-decayed mean handle time over its last 50 resolved
 * conversations, handle time being last offer → resolve (the offer decisions' time). Null when it
 * is not queued.
 */
export async function liveEstimate(client: Querier, w: WaitingConversation & { tier: number }): Promise<(WaitEstimate & { slots: number; busy: number; meanHandleMs: number }) | null> {
  const { rows } = await client.query<{ position: number | null; handles: { ms: number; at: string }[] | null }>(
    `SELECT (SELECT count(*)::int + 1 FROM router.queue_entries q2
              WHERE q2.tiers && q.tiers AND q2.conversation_id <> q.conversation_id
                AND (q2.priority > q.priority OR (q2.priority = q.priority AND (q2.waiting_since, q2.conversation_id) < (q.waiting_since, q.conversation_id)))) AS position,
            (SELECT jsonb_agg(jsonb_build_object('ms', h.ms, 'at', h.resolved_at) ORDER BY h.resolved_at) FROM (
               SELECT extract(epoch FROM c.resolved_at - d.decided_at) * 1000 AS ms, c.resolved_at
                 FROM router.conversations c
                 JOIN LATERAL (SELECT max(decided_at) AS decided_at FROM router.offer_decisions od WHERE od.conversation_id = c.id) d ON d.decided_at IS NOT NULL
                WHERE c.tier = $2::int AND c.resolved_at IS NOT NULL ORDER BY c.resolved_at DESC LIMIT ${RECENT}) h) AS handles
       FROM router.queue_entries q WHERE q.conversation_id = $1::text`,
    [w.conversationId, w.tier],
  );
  if (!rows[0] || rows[0].position === null) return null;
  let rate = priorRate(PRIOR_HANDLE_MS, 0);
  for (const h of rows[0].handles ?? []) rate = observeHandle(rate, h.ms, new Date(h.at).getTime(), HANDLE_HALF_LIFE_MS);
  let slots = 0;
  let busy = 0;
  for (const a of await loadAgentViews(client)) {
    const cap = a.capacity[w.channel] ?? 0;
    if (cap <= 0) continue;
    // could take it but for room on the channel (or having declined it): counts towards the slots
    const block = firstBlock({ ...a, load: {} }, { ...w, declined: [] }, BASE_STEP);
    if (block) continue;
    slots += cap;
    busy += Math.min(cap, a.load[w.channel] ?? 0);
  }
  return { ...estimateWait({ position: rows[0].position, slots, busy, meanHandleMs: rate.meanHandleMs }), slots, busy, meanHandleMs: Math.round(rate.meanHandleMs) };
}
