import { slaByTier } from '../config';
import type { ConversationRow, RoutingTx } from './routing-tx';

export interface EnqueueOptions {
  /** keep the conversation's original waiting time (requeue after disconnect/reject/timeout) */
  keepWaitingTime?: boolean;
  preferredAgentId?: string | null;
  /** agents never to offer it to again (cleared when the conversation changes tier) */
  declined?: string[];
  /** the conversation row was just inserted with status queued and these values */
  fresh?: boolean;
}

/**
 * Puts a conversation (already locked by the caller) in its tier's queue: status queued, no agent,
 * a queue entry with the SLA deadline of the tier. With keepWaitingTime it goes back to where it
 * was in the queue (same waiting_since), which with the queue order puts it ahead of later arrivals.
 */
export async function enqueue(tx: RoutingTx, conv: ConversationRow, opts: EnqueueOptions = {}): Promise<void> {
  const now = new Date();
  const waitingSince = opts.keepWaitingTime && conv.waitingSince ? conv.waitingSince : now;
  const slaMs = slaByTier(tx.ctx.config)[conv.tier] ?? tx.ctx.config.QUEUE_SLA_MS_TIER_1;
  const declined = opts.declined ?? conv.declinedAgents;
  // A conversation inserted as queued in this same transaction already has these values.
  if (!opts.fresh)
    await tx.query(
      `UPDATE router.conversations SET status = 'queued', agent_id = NULL, offer_deadline = NULL, waiting_since = $2::timestamptz,
              declined_agents = $3::text[], tier = $4::int, updated_at = now() WHERE id = $1::text`,
      [conv.id, waitingSince, declined, conv.tier],
    );
  await tx.query(
    `INSERT INTO router.queue_entries (conversation_id, tier, priority, waiting_since, tiers, sla_deadline, preferred_agent_id)
     VALUES ($1::text, $2::int, $3::int, $4::timestamptz, ARRAY[$2::int], $5::timestamptz, $6::text)
     ON CONFLICT (conversation_id) DO UPDATE SET tier = EXCLUDED.tier, priority = EXCLUDED.priority, waiting_since = EXCLUDED.waiting_since,
       tiers = EXCLUDED.tiers, sla_deadline = EXCLUDED.sla_deadline, overflows = 0, preferred_agent_id = EXCLUDED.preferred_agent_id`,
    [conv.id, conv.tier, conv.priority, waitingSince, new Date(now.getTime() + slaMs), opts.preferredAgentId ?? null],
  );
  conv.status = 'queued';
  conv.agentId = null;
  conv.offerDeadline = null;
  conv.waitingSince = waitingSince;
  conv.declinedAgents = declined;
  tx.needsMatch = true;
}

/**
 * Queue entries for conversations inserted as queued in this transaction (new arrivals), in one
 * statement; the same entry enqueue() writes.
 */
export async function enqueueOpened(tx: RoutingTx, convs: ConversationRow[]): Promise<void> {
  if (convs.length === 0) return;
  const sla = slaByTier(tx.ctx.config);
  await tx.query(
    `INSERT INTO router.queue_entries (conversation_id, tier, priority, waiting_since, tiers, sla_deadline, preferred_agent_id)
     SELECT r.id, r.tier, r.priority, r.waiting_since, ARRAY[r.tier], r.sla_deadline, NULL
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, tier int, priority int, waiting_since timestamptz, sla_deadline timestamptz)`,
    [
      JSON.stringify(
        convs.map((c) => {
          const since = c.waitingSince ?? new Date();
          return { id: c.id, tier: c.tier, priority: c.priority, waiting_since: since.toISOString(), sla_deadline: new Date(since.getTime() + (sla[c.tier] ?? tx.ctx.config.QUEUE_SLA_MS_TIER_1)).toISOString() };
        }),
      ),
    ],
  );
  tx.needsMatch = true;
}

type RecentRow = {
  id: string;
  tier: number;
  category: string;
  status: string;
  opened_at: Date;
};

/** The customers' latest conversations (up to `limit` + 1 each, newest first), in one read. */
async function recentByCustomer(tx: RoutingTx, customerKeys: string[], limit: number): Promise<Map<string, RecentRow[]>> {
  const out = new Map<string, RecentRow[]>();
  if (customerKeys.length === 0) return out;
  const { rows } = await tx.query<RecentRow & { key: string }>(
    `SELECT k.key, r.id, r.tier, r.category, r.status, r.opened_at FROM unnest($1::text[]) AS k(key)
       CROSS JOIN LATERAL (SELECT id, tier, category, status, opened_at FROM router.conversations
                            WHERE customer_key = k.key ORDER BY opened_at DESC LIMIT $2::int) r`,
    [customerKeys, limit + 1],
  );
  for (const r of rows) out.set(r.key, [...(out.get(r.key) ?? []), r]);
  return out;
}

const RECENT_SHOWN = 5;

/** Customer context shown with an offer: who, what, and what earlier agents wrote when escalating. */
export async function offerContext(tx: RoutingTx, conv: ConversationRow): Promise<Record<string, unknown>> {
  const recent = conv.customerKey ? ((await recentByCustomer(tx, [conv.customerKey], RECENT_SHOWN)).get(conv.customerKey) ?? []) : [];
  return contextOf(conv, recent);
}

function contextOf(conv: ConversationRow, recentRows: RecentRow[]): Record<string, unknown> {
  const recent = recentRows
    .filter((r) => r.id !== conv.id)
    .slice(0, RECENT_SHOWN)
    .map((r) => ({ conversationId: r.id, tier: r.tier, category: r.category, status: r.status, openedAt: r.opened_at.toISOString() }));
  return {    conversationId: conv.id,
    channel: conv.channel,
    threadKey: conv.threadKey,
    tier: conv.tier,
    category: conv.category,
    priority: conv.priority,
    language: conv.language,
    requiredSkills: conv.requiredSkills,
    customer: {
      name: conv.customer.name ?? null,
      identity: `${conv.customer.channel}:${conv.customer.address}`,
      address: conv.customer.address,
      ...(conv.customer.email ? { email: conv.customer.email } : {}),
      ...(conv.customer.phone ? { phone: conv.customer.phone } : {}),
      attributes: conv.customerAttributes,
    },
    lastText: conv.lastText,
    handoffNotes: conv.handoffNotes,
    recentConversations: recent,
    openedAt: conv.openedAt.toISOString(),
  };
}

export interface Offer {
  conv: ConversationRow;
  agentId: string;
  reason: string;
}

/** Offers a locked, queued conversation to a locked agent: one offer at a time, with a deadline. */
export async function makeOffer(tx: RoutingTx, conv: ConversationRow, agentId: string, reason: string, actor: { type: 'system' } | { type: 'agent'; id: string } = { type: 'system' }): Promise<void> {
  await makeOffers(tx, [{ conv, agentId, reason }], actor);
}

/**
 * Offers locked, queued conversations to locked agents in one statement (conversation offered with
 * a deadline, queue entry gone, agent's idle time reset), then the events and the offer frames with
 * the customer context.
 */
export async function makeOffers(tx: RoutingTx, offers: Offer[], actor: { type: 'system' } | { type: 'agent'; id: string } = { type: 'system' }): Promise<void> {
  if (offers.length === 0) return;
  const deadline = new Date(Date.now() + tx.ctx.config.OFFER_TIMEOUT_MS);
  await tx.query(
    `WITH o AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS o(conversation_id text, agent_id text)),
          u AS (UPDATE router.conversations c SET status = 'offered', agent_id = o.agent_id, offer_deadline = $2::timestamptz, updated_at = now()
                  FROM o WHERE c.id = o.conversation_id),
          d AS (DELETE FROM router.queue_entries q USING o WHERE q.conversation_id = o.conversation_id)
     UPDATE router.agents SET idle_since = now() WHERE id IN (SELECT agent_id FROM o)`,
    [JSON.stringify(offers.map((o) => ({ conversation_id: o.conv.id, agent_id: o.agentId }))), deadline],
  );
  const keys = [...new Set(offers.map((o) => o.conv.customerKey).filter((k): k is string => !!k))];
  const recent = await recentByCustomer(tx, keys, RECENT_SHOWN);
  for (const { conv, agentId, reason } of offers) {
    conv.status = 'offered';
    conv.agentId = agentId;
    conv.offerDeadline = deadline;
    tx.conversationEvent(conv, 'conversation.offered', actor, reason, { agentId });
    const context = contextOf(conv, conv.customerKey ? (recent.get(conv.customerKey) ?? []) : []);
    tx.agentEvent(agentId, { type: 'offer', conversationId: conv.id, deadline: deadline.toISOString(), conversation: context });
  }
}
