import type { Pool, PoolClient } from 'pg';
import { derivedId } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import type { Received } from '@omni/kafka';
import { toTimelineEntry, type HistoryEvent } from '../domain/timeline-entry';

/** Finds the customer owning an identity, creating customer and identity on first sight. */
async function customerFor(client: PoolClient, channel: string, address: string, name?: string): Promise<string> {
  const found = await client.query<{ customer_id: string }>('SELECT customer_id FROM history.identities WHERE channel = $1::text AND address = $2::text', [channel, address]);
  if (found.rows[0]) return found.rows[0].customer_id;
  // Deterministic id: two partitions meeting the same new identity at once converge on one customer.
  const id = derivedId('cus', channel, address);
  await client.query('INSERT INTO history.customers (id, display_name) VALUES ($1::text, $2::text) ON CONFLICT (id) DO NOTHING', [id, name ?? null]);
  await client.query(
    `INSERT INTO history.identities (channel, address, customer_id, linked_reason) VALUES ($1::text, $2::text, $3::text, 'first contact')
     ON CONFLICT (channel, address) DO NOTHING`,
    [channel, address, id],
  );
  const again = await client.query<{ customer_id: string }>('SELECT customer_id FROM history.identities WHERE channel = $1::text AND address = $2::text', [channel, address]);
  return again.rows[0]!.customer_id;
}

/**
 * Writes a batch of events to the timeline in one transaction; redelivered events are no-ops
 * (event_id is the primary key). The consumer commits offsets only after this resolves.
 */
export async function handleTimelineBatch(deps: { pool: Pool }, batch: Received<HistoryEvent>[]): Promise<void> {
  await withTransaction(deps.pool, async (client) => {
    for (const msg of batch) {
      const t = toTimelineEntry(msg.value);
      const customerId = await customerFor(client, t.party.channel, t.party.address, t.party.name);
      await client.query(
        `INSERT INTO history.timeline (event_id, customer_id, occurred_at, kind, channel, conversation_id, thread_key, tier, agent_id, source_topic, payload)
         VALUES ($1::text, $2::text, $3::timestamptz, $4::text, $5::text, $6::text, $7::text, $8::int, $9::text, $10::text, $11::jsonb)
         ON CONFLICT (event_id) DO NOTHING`,
        [t.eventId, customerId, t.occurredAt, t.kind, t.channel, t.conversationId ?? null, t.threadKey ?? null, t.tier ?? null, t.agentId ?? null, msg.topic, JSON.stringify(t.payload)],
      );
    }
  });
}
