import { derivedId, truncateCodePoints, type DeadLetter, type DeliveryStatus, type OutboundMessage, type TopicNames } from '@omni/contracts';
import type { OutboxRecord } from '@omni/kafka';

/** Where a reply came from on omni.outbound.v1 (kept with the row for its dead letter). */
export interface OutboundSource {
  topic: string;
  partition: number;
  offset: string;
  groupId: string;
}

/**
 * A DeliveryStatus record for the outbox. The event id is derived from (outboundId, status, attempt),
 * so the outbox relay re-sending it after a crash, or a second replica racing on an expired lease,
 * produces the same id and consumers (history, router) drop the copy.
 */
export function statusRecord(
  topics: TopicNames,
  out: OutboundMessage,
  status: DeliveryStatus['status'],
  attempt: number,
  extra: { reason?: string; providerMessageId?: string } = {},
  now = new Date(),
): OutboxRecord {
  const value: DeliveryStatus = {
    schema: 'omni.delivery.v1',
    eventId: derivedId('dlv', out.outboundId, status, String(attempt)),
    outboundId: out.outboundId,
    conversationId: out.conversationId,
    channel: out.channel,
    to: out.to,
    status,
    attempt,
    occurredAt: now.toISOString(),
    ...(extra.reason ? { reason: truncateCodePoints(extra.reason, 2000) } : {}),
    ...(extra.providerMessageId ? { providerMessageId: truncateCodePoints(extra.providerMessageId, 500) } : {}),
  };
  return { topic: topics.delivery, key: out.conversationId, schemaId: 'omni.delivery.v1', value };
}

/** The dead letter of a reply that will not be delivered: the original event, where it came from, why. */
export function deadLetterRecord(topics: TopicNames, out: OutboundMessage, source: OutboundSource, reason: string, now = new Date()): OutboxRecord {
  const value: DeadLetter = {
    schema: 'omni.dlq.v1',
    source: { topic: source.topic, partition: source.partition, offset: source.offset, groupId: source.groupId },
    reason: truncateCodePoints(`delivery failed: ${reason}`, 4000),
    key: out.conversationId,
    value: JSON.stringify(out),
    failedAt: now.toISOString(),
  };
  return { topic: topics.dlq, key: `${source.topic}:${source.partition}:${source.offset}`, schemaId: 'omni.dlq.v1', value };
}
