import type { Pool } from 'pg';
import { derivedId, type ConversationEvent, type InboundMessage, type TopicNames } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { enqueueOutbox, type OutboxRelay, type Received } from '@omni/kafka';
import { classify } from '../domain/classify';

export interface InboundDeps {
  pool: Pool;
  topics: TopicNames;
  relay: Pick<OutboxRelay, 'kick'>;
}

/**
 * Handles one inbound message: opens a conversation for its thread (or joins the live one) and
 * queues it, all in one transaction together with the processed-id row and the outbox events, so a
 * redelivered message changes nothing.
 */
export async function handleInbound(deps: InboundDeps, msg: Received<InboundMessage>): Promise<void> {
  const m = msg.value;
  const changed = await withTransaction(deps.pool, async (client) => {
    const fresh = await client.query('INSERT INTO router.processed_events (event_id) VALUES ($1::text) ON CONFLICT DO NOTHING', [m.messageId]);
    if (fresh.rowCount === 0) return false;
    const live = await client.query<{ id: string }>(
      `SELECT id FROM router.conversations WHERE thread_key = $1::text AND status NOT IN ('resolved', 'closed') FOR UPDATE`,
      [m.threadKey],
    );
    if (live.rows[0]) {
      await client.query('INSERT INTO router.conversation_messages (message_id, conversation_id, received_at) VALUES ($1::text, $2::text, $3::timestamptz)', [
        m.messageId,
        live.rows[0].id,
        m.receivedAt,
      ]);
      return true;
    }
    const c = classify(m);
    const conversationId = derivedId('conv', m.messageId);
    const now = new Date().toISOString();
    await client.query(
      `INSERT INTO router.conversations (id, thread_key, channel, customer, status, tier, category, priority, language, opened_at)
       VALUES ($1::text, $2::text, $3::text, $4::jsonb, 'queued', $5::int, $6::text, $7::int, $8::text, $9::timestamptz)`,
      [conversationId, m.threadKey, m.channel, JSON.stringify(m.from), c.tier, c.category, c.priority, c.language ?? null, now],
    );
    await client.query('INSERT INTO router.conversation_messages (message_id, conversation_id, received_at) VALUES ($1::text, $2::text, $3::timestamptz)', [
      m.messageId,
      conversationId,
      m.receivedAt,
    ]);
    await client.query('INSERT INTO router.queue_entries (conversation_id, tier, priority, waiting_since) VALUES ($1::text, $2::int, $3::int, $4::timestamptz)', [
      conversationId,
      c.tier,
      c.priority,
      now,
    ]);
    const base = {
      schema: 'omni.conversations.v1' as const,
      conversationId,
      occurredAt: now,
      channel: m.channel,
      threadKey: m.threadKey,
      customer: m.from,
      tier: c.tier,
      category: c.category,
      priority: c.priority,
      messageId: m.messageId,
      ...(c.language ? { language: c.language } : {}),
    };
    const events: ConversationEvent[] = [
      { ...base, eventId: derivedId('evt', conversationId, 'opened'), type: 'conversation.opened', actor: { type: 'customer', id: m.from.address }, reason: 'first message on thread' },
      { ...base, eventId: derivedId('evt', conversationId, 'queued', '1'), type: 'conversation.queued', actor: { type: 'system' }, reason: `tier ${c.tier} queue` },
    ];
    await enqueueOutbox(
      client,
      'router',
      events.map((e) => ({ topic: deps.topics.conversations, key: conversationId, schemaId: 'omni.conversations.v1', value: e })),
    );
    return true;
  });
  if (changed) deps.relay.kick();
}
