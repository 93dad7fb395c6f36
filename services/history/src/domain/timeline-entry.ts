import type { ConversationEvent, DeliveryStatus, InboundMessage, OutboundMessage, Party } from '@omni/contracts';

export type HistoryEvent = InboundMessage | ConversationEvent | OutboundMessage | DeliveryStatus;

/** What one consumed event contributes to a customer's timeline. */
export interface TimelineEntry {
  eventId: string;
  party: Party;
  occurredAt: string;
  kind: string;
  channel: string;
  conversationId?: string;
  threadKey?: string;
  tier?: number;
  agentId?: string;
  payload: HistoryEvent;
}

/** Maps any of the four consumed envelopes to a timeline entry (pure; unit-testable). */
export function toTimelineEntry(e: HistoryEvent): TimelineEntry {
  switch (e.schema) {
    case 'omni.inbound.v1':
      return { eventId: e.messageId, party: e.from, occurredAt: e.receivedAt, kind: 'message.inbound', channel: e.channel, threadKey: e.threadKey, payload: e };
    case 'omni.conversations.v1':
      return {
        eventId: e.eventId,
        party: e.customer,
        occurredAt: e.occurredAt,
        kind: e.type,
        channel: e.channel,
        conversationId: e.conversationId,
        threadKey: e.threadKey,
        tier: e.tier,
        ...(e.agentId ? { agentId: e.agentId } : {}),
        payload: e,
      };
    case 'omni.outbound.v1':
      return { eventId: e.outboundId, party: e.to, occurredAt: e.createdAt, kind: 'message.outbound', channel: e.channel, conversationId: e.conversationId, threadKey: e.threadKey, agentId: e.agentId, payload: e };
    case 'omni.delivery.v1':
      return { eventId: e.eventId, party: e.to, occurredAt: e.occurredAt, kind: `delivery.${e.status}`, channel: e.channel, conversationId: e.conversationId, payload: e };
  }
}
