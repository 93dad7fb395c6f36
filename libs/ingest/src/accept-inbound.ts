import type { Pool } from 'pg';
import { InboundMessage, type TopicNames } from '@omni/contracts';
import type { Publisher } from '@omni/kafka';
import type { IngestMetrics } from './ingest-metrics';

export interface IngestDeps {
  pool: Pool;
  publisher: Publisher;
  topics: TopicNames;
  metrics: IngestMetrics;
}

export type AcceptResult = { status: 'accepted' | 'duplicate'; messageId: string };

/**
 * Publishes envelopes to omni.inbound.v1 unless already published, and resolves only after Kafka
 * acked them (acks=-1). The dedupe row is written after the ack: a crash in between means the
 * provider retries and the copy is dropped by message id downstream — never a lost message.
 */
export async function acceptInbound(deps: IngestDeps, envelopes: InboundMessage[]): Promise<AcceptResult[]> {
  if (envelopes.length === 0) return [];
  const ids = envelopes.map((e) => e.messageId);
  const seen = new Set(
    (await deps.pool.query<{ message_id: string }>('SELECT message_id FROM ingest.dedupe WHERE message_id = ANY($1::text[])', [ids])).rows.map((r) => r.message_id),
  );
  const fresh: InboundMessage[] = [];
  const batchIds = new Set<string>();
  for (const e of envelopes) {
    if (seen.has(e.messageId) || batchIds.has(e.messageId)) continue;
    batchIds.add(e.messageId);
    fresh.push(e);
  }
  if (fresh.length > 0) {
    await deps.publisher.publish(fresh.map((e) => ({ topic: deps.topics.inbound, key: e.threadKey, value: e, schema: InboundMessage })));
    await deps.pool.query(
      `INSERT INTO ingest.dedupe (message_id, channel, provider, provider_message_id, thread_key)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
       ON CONFLICT (message_id) DO NOTHING`,
      [fresh.map((e) => e.messageId), fresh.map((e) => e.channel), fresh.map((e) => e.provider), fresh.map((e) => e.providerMessageId), fresh.map((e) => e.threadKey)],
    );
  }
  const freshIds = new Set(fresh.map((e) => e.messageId));
  return envelopes.map((e) => {
    const status = freshIds.has(e.messageId) ? 'accepted' : 'duplicate';
    (status === 'accepted' ? deps.metrics.accepted : deps.metrics.duplicate).inc({ channel: e.channel, provider: e.provider });
    freshIds.delete(e.messageId); // a second copy inside the same batch counts as duplicate
    return { status, messageId: e.messageId };
  });
}
