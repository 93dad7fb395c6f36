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

/** Customer context shown with an offer: who, what, and what earlier agents wrote when escalating. */
export async function offerContext(tx: RoutingTx, conv: ConversationRow): Promise<Record<string, unknown>> {
  const recent = conv.customerKey
    ? (
        await tx.query<{ id: string; tier: number; category: string; status: string; opened_at: Date }>(
          `SELECT id, tier, category, status, opened_at FROM router.conversations
            WHERE customer_key = $1::text AND id <> $2::text ORDER BY opened_at DESC LIMIT 5`,
          [conv.customerKey, conv.id],
        )
      ).rows.map((r) => ({ conversationId: r.id, tier: r.tier, category: r.category, status: r.status, openedAt: r.opened_at.toISOString() }))
    : [];
  return {
    conversationId: conv.id,
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

/** Offers a locked, queued conversation to a locked agent: one offer at a time, with a deadline. */
export async function makeOffer(tx: RoutingTx, conv: ConversationRow, agentId: string, reason: string, actor: { type: 'system' } | { type: 'agent'; id: string } = { type: 'system' }): Promise<void> {
  const deadline = new Date(Date.now() + tx.ctx.config.OFFER_TIMEOUT_MS);
  await tx.query(
    `WITH u AS (UPDATE router.conversations SET status = 'offered', agent_id = $2::text, offer_deadline = $3::timestamptz, updated_at = now() WHERE id = $1::text),
          d AS (DELETE FROM router.queue_entries WHERE conversation_id = $1::text)
     UPDATE router.agents SET idle_since = now() WHERE id = $2::text`,
    [conv.id, agentId, deadline],
  );
  conv.status = 'offered';
  conv.agentId = agentId;
  conv.offerDeadline = deadline;
  tx.conversationEvent(conv, 'conversation.offered', actor, reason, { agentId });
  tx.agentEvent(agentId, { type: 'offer', conversationId: conv.id, deadline: deadline.toISOString(), conversation: await offerContext(tx, conv) });
}
