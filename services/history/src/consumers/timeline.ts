import type { Pool } from 'pg';
import type { TopicNames } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import type { OutboxRelay, Received } from '@omni/kafka';
import { toTimelineEntry, type HistoryEvent } from '../domain/timeline-entry';
import { resolveCustomers } from '../store/link-customers';
import { refreshConversations } from '../store/conversations';
import { enqueueCustomerRecords } from '../store/customers';

// Escalations change the customer's record (router context: past escalations); every other event
// leaves it as it was, so a busy customer does not republish their record on each message.
const COUNTED = new Set(['conversation.escalated']);

export interface TimelineDeps {
  pool: Pool;
  topics: Pick<TopicNames, 'customers'>;
  relay?: Pick<OutboxRelay, 'kick'>;
}

/**
 * Writes a batch of events to the timeline: resolves the customer of each event (linking, in a
 * short transaction of its own, only when something is new), then in one transaction inserts every
 * row with one multi-row INSERT (event_id is the primary key, so a redelivered event is a no-op),
 * re-projects the conversations the new rows touched, and queues customers.v1 records for customers
 * whose counts changed. The consumer commits offsets only after this resolves.
 */
export async function handleTimelineBatch(deps: TimelineDeps, batch: Received<HistoryEvent>[]): Promise<void> {
  const entries = batch.map((m) => ({ ...toTimelineEntry(m.value), topic: m.topic }));
  const linked = await resolveCustomers(deps.pool, entries.map((e) => e.party), (client, changed) =>
    enqueueCustomerRecords(client, deps.topics.customers, changed),
  );
  const homes = linked.homes;
  const customersChanged = await withTransaction(deps.pool, async (client) => {
    const changed = new Set<string>();
    const fresh = await client.query<{ conversation_id: string | null; kind: string; customer_id: string }>(
      `INSERT INTO history.timeline (event_id, customer_id, occurred_at, kind, channel, conversation_id, thread_key, tier, agent_id, source_topic, payload)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[], $11::jsonb[])
       ON CONFLICT (event_id) DO NOTHING
       RETURNING conversation_id, kind, customer_id`,
      [
        entries.map((e) => e.eventId),
        homes,
        entries.map((e) => e.occurredAt),
        entries.map((e) => e.kind),
        entries.map((e) => e.channel),
        entries.map((e) => e.conversationId ?? null),
        entries.map((e) => e.threadKey ?? null),
        entries.map((e) => e.tier ?? null),
        entries.map((e) => e.agentId ?? null),
        entries.map((e) => e.topic),
        entries.map((e) => JSON.stringify(e.payload)),
      ],
    );
    // delivery statuses do not change a conversation's projection
    const conversations = [...new Set(fresh.rows.filter((r) => r.conversation_id !== null && !r.kind.startsWith('delivery.')).map((r) => r.conversation_id!))].sort();
    await refreshConversations(client, conversations);
    for (const r of fresh.rows) if (COUNTED.has(r.kind)) changed.add(r.customer_id);
    return enqueueCustomerRecords(client, deps.topics.customers, changed);
  });
  if (customersChanged + linked.changed > 0) deps.relay?.kick();
}
