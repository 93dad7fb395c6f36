import { newId } from '@omni/contracts';
import type { Conversation } from '../domain/conversation';
import type { RoutingTx } from '../store/routing-tx';

/**
 * An automatic message to the customer on their channel, through the outbox like an agent reply
 * (the outside-hours answer, the wait notices). The sender is a `system:` id, which history never
 * counts as a first response.
 */
export function systemNotice(tx: RoutingTx, c: Conversation, sender: `system:${string}`, text: string, at: Date): void {
  tx.outbound({
    schema: 'omni.outbound.v1',
    outboundId: newId('out'),
    conversationId: c.id,
    channel: c.channel,
    threadKey: c.threadKey,
    to: c.customer,
    agentId: sender,
    text,
    ...(c.lastMessageId ? { inReplyToMessageId: c.lastMessageId } : {}),
    createdAt: at.toISOString(),
  });
}
