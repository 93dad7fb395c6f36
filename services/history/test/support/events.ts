import {
  ConversationEvent,
  DeliveryStatus,
  InboundMessage,
  OutboundMessage,
  type ConversationEventType,
  type Party,
  type TopicNames,
} from '@omni/contracts';
import type { OutgoingRecord } from '@omni/kafka';

/** An inbound envelope as an ingest service publishes it, sent and received at `at`. */
export function inboundEnvelope(id: string, from: Party, at: string, text: string, threadKey = `${from.channel}:${from.address}`): InboundMessage {
  return {
    schema: 'omni.inbound.v1',
    messageId: id,
    channel: from.channel,
    provider: 'test',
    providerMessageId: id,
    threadKey,
    from,
    sentAt: at,
    receivedAt: at,
    text,
  };
}

/**
 * Envelopes as the other services publish them (ingest → inbound, router → conversations and
 * outbound, ingest delivery → delivery), with explicit timestamps so a test can script a history.
 */
export class Script {
  readonly records: OutgoingRecord[] = [];
  readonly ids: string[] = [];
  constructor(private readonly topics: TopicNames) {}

  inbound(id: string, from: Party, at: string, text: string, threadKey = `${from.channel}:${from.address}`): InboundMessage {
    const value = inboundEnvelope(id, from, at, text, threadKey);
    this.push({ topic: this.topics.inbound, key: threadKey, value, schema: InboundMessage }, id);
    return value;
  }

  conv(
    id: string,
    type: ConversationEventType,
    c: { conversationId: string; customer: Party; tier: number; at: string; threadKey?: string },
    extra: Partial<Pick<ConversationEvent, 'fromTier' | 'agentId' | 'toAgentId' | 'category' | 'handoffNote' | 'reason' | 'messageId' | 'actor' | 'data'>> = {},
  ): ConversationEvent {
    const value: ConversationEvent = {
      schema: 'omni.conversations.v1',
      eventId: id,
      type,
      conversationId: c.conversationId,
      occurredAt: c.at,
      actor: extra.actor ?? (extra.agentId ? { type: 'agent', id: extra.agentId } : { type: 'system' }),
      channel: c.customer.channel,
      threadKey: c.threadKey ?? `${c.customer.channel}:${c.customer.address}`,
      customer: c.customer,
      tier: c.tier,
      ...extra,
    };
    this.push({ topic: this.topics.conversations, key: c.conversationId, value, schema: ConversationEvent }, id);
    return value;
  }

  outbound(id: string, c: { conversationId: string; to: Party; agentId: string; at: string; text: string }): OutboundMessage {
    const value: OutboundMessage = {
      schema: 'omni.outbound.v1',
      outboundId: id,
      conversationId: c.conversationId,
      channel: c.to.channel,
      threadKey: `${c.to.channel}:${c.to.address}`,
      to: c.to,
      agentId: c.agentId,
      text: c.text,
      createdAt: c.at,
    };
    this.push({ topic: this.topics.outbound, key: c.conversationId, value, schema: OutboundMessage }, id);
    return value;
  }

  delivery(id: string, c: { outboundId: string; conversationId: string; to: Party; at: string; status: DeliveryStatus['status'] }): DeliveryStatus {
    const value: DeliveryStatus = {
      schema: 'omni.delivery.v1',
      eventId: id,
      outboundId: c.outboundId,
      conversationId: c.conversationId,
      channel: c.to.channel,
      to: c.to,
      status: c.status,
      attempt: 1,
      occurredAt: c.at,
    };
    this.push({ topic: this.topics.delivery, key: c.conversationId, value, schema: DeliveryStatus }, id);
    return value;
  }

  /** Takes the records scripted so far (to publish them) and starts a new step. */
  take(): { records: OutgoingRecord[]; ids: string[] } {
    return { records: this.records.splice(0), ids: this.ids.splice(0) };
  }

  private push(r: OutgoingRecord, id: string) {
    this.records.push(r);
    this.ids.push(id);
  }
}
