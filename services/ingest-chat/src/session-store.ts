import type { Pool } from 'pg';
import { DeliveryStatus, derivedId, type OutboundMessage, type Party, type TopicNames } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { enqueueOutbox } from '@omni/kafka';
import type { ChatSession } from './domain/chat-session';
import { choicesOf, type ReplyChoice } from './domain/visitor-frames';

/** pg NOTIFY channel: payload = session id with a newly stored reply (every replica LISTENs). */
export const REPLY_NOTIFY_CHANNEL = 'ingest_chat_replies';

export interface StoredReply {
  seq: number;
  outboundId: string;
  text: string;
  agentId: string;
  createdAt: string;
  /** buttons under the reply (raw.choices of the outbound message) */
  choices?: ReplyChoice[];
}

export async function insertSession(pool: Pool, s: ChatSession): Promise<void> {
  await pool.query(
    `INSERT INTO ingest.chat_sessions (session_id, adapter_id, visitor_id, name, email, language, expires_at)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::timestamptz)`,
    [s.sessionId, s.adapterId, s.visitorId, s.name ?? null, s.email ?? null, s.language ?? null, s.expiresAt.toISOString()],
  );
}

export async function findSession(pool: Pool, sessionId: string): Promise<ChatSession | undefined> {
  const r = await pool.query<{ session_id: string; adapter_id: string; visitor_id: string; name: string | null; email: string | null; language: string | null; expires_at: Date }>(
    'SELECT session_id, adapter_id, visitor_id, name, email, language, expires_at FROM ingest.chat_sessions WHERE session_id = $1::text',
    [sessionId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    sessionId: row.session_id,
    adapterId: row.adapter_id,
    visitorId: row.visitor_id,
    ...(row.name ? { name: row.name } : {}),
    ...(row.email ? { email: row.email } : {}),
    ...(row.language ? { language: row.language } : {}),
    expiresAt: row.expires_at,
  };
}

export type StoreOutcome = 'stored' | 'duplicate' | 'unknown-session';

/**
 * Stores an agent reply for a websocket session under the next per-session seq, once per outboundId
 * (Kafka redelivers). The session row lock serialises numbering, so seqs have no gaps; the NOTIFY is
 * sent on commit and wakes the replica holding the visitor's socket, wherever it is.
 */
export async function storeReply(pool: Pool, sessionId: string, o: OutboundMessage): Promise<StoreOutcome> {
  return withTransaction(pool, async (c) => {
    const s = await c.query<{ last_seq: string }>('SELECT last_seq FROM ingest.chat_sessions WHERE session_id = $1::text FOR UPDATE', [sessionId]);
    if (s.rowCount === 0) return 'unknown-session';
    const dup = await c.query('SELECT 1 FROM ingest.chat_session_events WHERE outbound_id = $1::text', [o.outboundId]);
    if ((dup.rowCount ?? 0) > 0) return 'duplicate';
    const seq = Number(s.rows[0]!.last_seq) + 1;
    await c.query('UPDATE ingest.chat_sessions SET last_seq = $2::bigint WHERE session_id = $1::text', [sessionId, seq]);
    await c.query(
      `INSERT INTO ingest.chat_session_events (session_id, seq, outbound_id, conversation_id, agent_id, text, to_party, created_at, choices)
       VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::text, $7::jsonb, $8::timestamptz, $9::jsonb)`,
      [sessionId, seq, o.outboundId, o.conversationId, o.agentId, o.text, JSON.stringify(o.to), o.createdAt, JSON.stringify(choicesOf(o.raw) ?? null)],
    );
    await c.query('SELECT pg_notify($1::text, $2::text)', [REPLY_NOTIFY_CHANNEL, sessionId]);
    return 'stored';
  });
}

/** Stored replies after `afterSeq`, in order. */
export async function repliesAfter(pool: Pool, sessionId: string, afterSeq: number, limit: number): Promise<StoredReply[]> {
  const r = await pool.query<{ seq: string; outbound_id: string; text: string; agent_id: string; created_at: Date; choices: ReplyChoice[] | null }>(
    `SELECT seq, outbound_id, text, agent_id, created_at, choices FROM ingest.chat_session_events
     WHERE session_id = $1::text AND seq > $2::bigint ORDER BY seq LIMIT $3::int`,
    [sessionId, afterSeq, limit],
  );
  return r.rows.map((row) => ({
    seq: Number(row.seq),
    outboundId: row.outbound_id,
    text: row.text,
    agentId: row.agent_id,
    createdAt: row.created_at.toISOString(),
    ...(row.choices ? { choices: row.choices } : {}),
  }));
}

/** The buttons a reply of this session offered (undefined: no such reply in the session, or it has none). */
export async function replyChoices(pool: Pool, sessionId: string, outboundId: string): Promise<ReplyChoice[] | undefined> {
  const r = await pool.query<{ choices: ReplyChoice[] | null }>(
    'SELECT choices FROM ingest.chat_session_events WHERE session_id = $1::text AND outbound_id = $2::text',
    [sessionId, outboundId],
  );
  return r.rows[0]?.choices ?? undefined;
}

/**
 * Records that replies were written to a visitor socket and queues one "delivered" status per reply
 * the first time only, in the same transaction (outbox), so a status is neither lost nor doubled.
 * Returns how many statuses were queued.
 */
export async function markDelivered(pool: Pool, topics: TopicNames, sessionId: string, seqs: number[]): Promise<number> {
  if (seqs.length === 0) return 0;
  return withTransaction(pool, async (c) => {
    const r = await c.query<{ seq: string; outbound_id: string; conversation_id: string; to_party: Party }>(
      `UPDATE ingest.chat_session_events SET delivered_at = now()
       WHERE session_id = $1::text AND seq = ANY($2::bigint[]) AND delivered_at IS NULL
       RETURNING seq, outbound_id, conversation_id, to_party`,
      [sessionId, seqs],
    );
    const now = new Date().toISOString();
    await enqueueOutbox(
      c,
      'ingest',
      r.rows.map((row) => {
        const status: DeliveryStatus = {
          schema: 'omni.delivery.v1',
          eventId: derivedId('dlv', row.outbound_id, 'delivered'),
          outboundId: row.outbound_id,
          conversationId: row.conversation_id,
          channel: 'chat',
          to: row.to_party,
          status: 'delivered',
          attempt: 1,
          occurredAt: now,
          providerMessageId: `${sessionId}:${row.seq}`,
        };
        return { topic: topics.delivery, key: row.conversation_id, schemaId: 'omni.delivery.v1' as const, value: status };
      }),
    );
    return r.rowCount ?? 0;
  });
}
