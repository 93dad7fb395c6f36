import type { DeliveryStatus } from '@omni/contracts';
import type { Received } from '@omni/kafka';
import { runRouting, type RouterCtx } from '../store/routing-tx';

/**
 * Tells the agent console what became of a reply it cannot see otherwise: a delivery that failed for
 * good (with the reason), or a voice conversation where the agent must call back. The frame goes to
 * the conversation's current agent, or the last one if it has moved on; idempotent on the event id.
 */
export async function handleDeliveryStatus(ctx: RouterCtx, msg: Received<DeliveryStatus>): Promise<void> {
  const d = msg.value;
  if (d.status !== 'failed' && d.status !== 'callback-task') return;
  await runRouting(ctx, async (tx) => {
    const fresh = await tx.client.query('INSERT INTO router.processed_events (event_id) VALUES ($1::text) ON CONFLICT DO NOTHING', [d.eventId]);
    if (fresh.rowCount === 0) return;
    const r = await tx.client.query<{ agent_id: string | null; last_agent_id: string | null }>(
      'SELECT agent_id, last_agent_id FROM router.conversations WHERE id = $1::text',
      [d.conversationId],
    );
    const agentId = r.rows[0]?.agent_id ?? r.rows[0]?.last_agent_id;
    if (!agentId) return;
    tx.agentEvent(agentId, {
      type: d.status === 'failed' ? 'delivery-failed' : 'callback-task',
      conversationId: d.conversationId,
      outboundId: d.outboundId,
      channel: d.channel,
      to: d.to.address,
      ...(d.reason ? { reason: d.reason } : {}),
    });
  });
}
