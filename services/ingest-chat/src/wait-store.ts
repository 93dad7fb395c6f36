import type { Pool } from 'pg';
import { REPLY_NOTIFY_CHANNEL } from './session-store';

/** The latest wait estimate of a session's queued conversation, as the visitor's `wait` frame carries it. */
export interface SessionWait {
  eventId: string;
  conversationId: string;
  position: number;
  estimateMs: number | null;
  estimator: string;
  at: string;
}

/**
 * Stores a wait estimate for a websocket session unless a later one is stored already (Kafka
 * redelivers; partitions keep a conversation's events in order, but a redelivery may come late),
 * then wakes the replica holding the visitor's socket (the replies' NOTIFY channel: a wake-up makes
 * the socket sync replies and its wait). False when the session is unknown or the estimate is stale.
 */
export async function storeWait(pool: Pool, sessionId: string, w: SessionWait): Promise<boolean> {
  const r = await pool.query(
    `WITH s AS (SELECT session_id FROM ingest.chat_sessions WHERE session_id = $1::text),
          up AS (INSERT INTO ingest.chat_session_waits (session_id, conversation_id, event_id, position, estimate_ms, estimator, occurred_at)
                 SELECT session_id, $2::text, $3::text, $4::int, $5::bigint, $6::text, $7::timestamptz FROM s
                 ON CONFLICT (session_id) DO UPDATE SET conversation_id = EXCLUDED.conversation_id, event_id = EXCLUDED.event_id, position = EXCLUDED.position,
                   estimate_ms = EXCLUDED.estimate_ms, estimator = EXCLUDED.estimator, occurred_at = EXCLUDED.occurred_at
                 WHERE ingest.chat_session_waits.occurred_at < EXCLUDED.occurred_at
                 RETURNING session_id)
     SELECT pg_notify($8::text, session_id) FROM up`,
    [sessionId, w.conversationId, w.eventId, w.position, w.estimateMs, w.estimator, w.at, REPLY_NOTIFY_CHANNEL],
  );
  return (r.rowCount ?? 0) > 0;
}

/** A session's latest wait estimate, if any. */
export async function latestWait(pool: Pool, sessionId: string): Promise<SessionWait | undefined> {
  const r = await pool.query<{ event_id: string; conversation_id: string; position: number; estimate_ms: string | null; estimator: string; occurred_at: Date }>(
    'SELECT event_id, conversation_id, position, estimate_ms, estimator, occurred_at FROM ingest.chat_session_waits WHERE session_id = $1::text',
    [sessionId],
  );
  const row = r.rows[0];
  return row && { eventId: row.event_id, conversationId: row.conversation_id, position: row.position, estimateMs: row.estimate_ms === null ? null : Number(row.estimate_ms), estimator: row.estimator, at: row.occurred_at.toISOString() };
}
