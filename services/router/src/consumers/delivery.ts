import type { DeliveryStatus } from '@omni/contracts';
import type { Received } from '@omni/kafka';
import { claimEventId, conversationAgent } from '../store/conversations';
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
    if (!(await claimEventId(tx.client, d.eventId))) return;
    const agentId = await conversationAgent(tx.client, d.conversationId);
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
