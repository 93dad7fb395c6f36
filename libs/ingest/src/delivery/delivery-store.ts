import type { Pool, PoolClient } from 'pg';
import type { OutboundMessage } from '@omni/contracts';
import type { OutboxRecord } from '@omni/kafka';
import type { OutboundSource } from './delivery-events';

/** A row of ingest.deliveries as the delivery loop needs it. */
export interface DeliveryRow {
  seq: string;
  outboundId: string;
  conversationId: string;
  channel: string;
  provider: string;
  body: string;
  outbound: OutboundMessage;
  attempts: number;
  source: OutboundSource;
}

export interface NewDelivery {
  out: OutboundMessage;
  provider: string;
  status: 'pending' | 'failed' | 'callback-task';
  body: string;
  lastError?: string;
  source: OutboundSource;
}

/** Inserts a delivery row unless the outbound id is known; true when this call inserted it. */
export async function insertDelivery(client: PoolClient, d: NewDelivery): Promise<boolean> {
  const r = await client.query(
    `INSERT INTO ingest.deliveries
       (outbound_id, conversation_id, channel, thread_key, provider, status, body, outbound, last_error,
        source_topic, source_partition, source_offset, source_group)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::jsonb, $9::text,
             $10::text, $11::int, $12::text, $13::text)
     ON CONFLICT (outbound_id) DO NOTHING`,
    [
      d.out.outboundId, d.out.conversationId, d.out.channel, d.out.threadKey, d.provider, d.status, d.body, JSON.stringify(d.out), d.lastError ?? null,
      d.source.topic, d.source.partition, d.source.offset, d.source.groupId,
    ],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Which of these outbound ids already have a row (a redelivered or duplicated event). */
export async function knownOutboundIds(client: PoolClient, ids: string[]): Promise<Set<string>> {
  const r = await client.query<{ outbound_id: string }>('SELECT outbound_id FROM ingest.deliveries WHERE outbound_id = ANY($1::text[])', [ids]);
  return new Set(r.rows.map((x) => x.outbound_id));
}

/** Which of these conversations have a pending reply whose provider is not resolved yet (provider ''). */
export async function conversationsAwaitingProvider(client: PoolClient, conversationIds: string[]): Promise<Set<string>> {
  const r = await client.query<{ conversation_id: string }>(
    `SELECT DISTINCT conversation_id FROM ingest.deliveries WHERE conversation_id = ANY($1::text[]) AND status = 'pending' AND provider = ''`,
    [conversationIds],
  );
  return new Set(r.rows.map((x) => x.conversation_id));
}

/** The provider each thread came in on (its latest inbound message), from the ingest dedupe index. */
export async function providersOfThreads(client: PoolClient, threadKeys: string[]): Promise<Map<string, string>> {
  const r = await client.query<{ thread_key: string; provider: string }>(
    `SELECT DISTINCT ON (thread_key) thread_key, provider FROM ingest.dedupe
     WHERE thread_key = ANY($1::text[]) ORDER BY thread_key, published_at DESC`,
    [threadKeys],
  );
  const out = new Map(r.rows.map((x) => [x.thread_key, x.provider]));
  // A websocket chat session owns its thread from the moment it is created, before (or without) any
  // inbound message: ingest-chat delivers its replies itself (chat:<sessionId>, migration 0020).
  const candidates = threadKeys.filter((t) => !out.has(t) && t.startsWith('chat:')).map((t) => t.slice('chat:'.length));
  if (candidates.length > 0) {
    const sessions = await client.query<{ session_id: string }>('SELECT session_id FROM ingest.chat_sessions WHERE session_id = ANY($1::text[])', [candidates]);
    for (const s of sessions.rows) out.set(`chat:${s.session_id}`, 'webchat');
  }
  return out;
}

// Eligible = the oldest pending row of its conversation (per-conversation order) whose deadline has
// passed. Rows are scanned in deadline order (index deliveries_due) and each is kept only if no older
// pending row of its conversation exists (index probe on deliveries_pending), so the cost grows with
// the rows claimed, not with the backlog. SKIP LOCKED lets replicas claim disjoint rows; a replica can
// only see a conversation's next row as eligible once the previous one is delivered or failed. The
// claim pushes next_attempt_at to a lease deadline and commits at once: no transaction stays open
// during the HTTP call, and a replica that dies mid-attempt only delays the row until the lease ends.
const CLAIM_SQL = `
WITH ready AS (
  SELECT d.seq FROM ingest.deliveries d
  WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND d.channel = ANY($1::text[])
    AND NOT EXISTS (SELECT 1 FROM ingest.deliveries p
                    WHERE p.conversation_id = d.conversation_id AND p.status = 'pending' AND p.seq < d.seq)
  ORDER BY d.next_attempt_at, d.seq
  LIMIT $2::int
  FOR UPDATE OF d SKIP LOCKED
)
UPDATE ingest.deliveries d
SET next_attempt_at = now() + $3::int * interval '1 millisecond', attempts = d.attempts + 1, claim_token = $4::text, updated_at = now()
FROM ready WHERE d.seq = ready.seq
RETURNING d.seq::text AS seq, d.outbound_id, d.conversation_id, d.channel, d.provider, d.body, d.outbound, d.attempts,
          d.source_topic, d.source_partition, d.source_offset, d.source_group`;

/** Claims up to `limit` due rows for one attempt each, leased for `leaseMs`. */
export async function claimDue(pool: Pool, channels: readonly string[], limit: number, leaseMs: number, token: string): Promise<DeliveryRow[]> {
  const r = await pool.query<{
    seq: string; outbound_id: string; conversation_id: string; channel: string; provider: string; body: string; outbound: OutboundMessage; attempts: number;
    source_topic: string; source_partition: number; source_offset: string; source_group: string;
  }>(CLAIM_SQL, [channels, limit, leaseMs, token]);
  return r.rows
    .map((x) => ({
      seq: x.seq, outboundId: x.outbound_id, conversationId: x.conversation_id, channel: x.channel, provider: x.provider, body: x.body, outbound: x.outbound, attempts: x.attempts,
      source: { topic: x.source_topic, partition: x.source_partition, offset: x.source_offset, groupId: x.source_group },
    }))
    .sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
}

/** Milliseconds until the earliest head-of-conversation deadline (undefined when nothing is pending). */
export async function msUntilNextDue(pool: Pool, channels: readonly string[]): Promise<number | undefined> {
  const r = await pool.query<{ ms: string }>(
    `SELECT GREATEST(0, EXTRACT(EPOCH FROM (d.next_attempt_at - now())) * 1000)::bigint::text AS ms
     FROM ingest.deliveries d
     WHERE d.status = 'pending' AND d.channel = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM ingest.deliveries p
                       WHERE p.conversation_id = d.conversation_id AND p.status = 'pending' AND p.seq < d.seq)
     ORDER BY d.next_attempt_at LIMIT 1`,
    [channels],
  );
  const ms = r.rows[0]?.ms;
  return ms == null ? undefined : Number(ms);
}

/**
 * Records an attempt's result and its outbox records in one statement (atomic, one round trip), if
 * this claim still holds the row: fenced by the claim token, so a replica whose lease ran out cannot
 * overwrite the newer attempt's result. Returns false (and writes nothing) when the claim was lost.
 */
export async function recordAttempt(
  pool: Pool,
  row: DeliveryRow,
  token: string,
  next: { status: 'delivered' | 'failed'; lastError?: string; providerMessageId?: string } | { status: 'pending'; delayMs: number; lastError: string },
  events: OutboxRecord[],
): Promise<boolean> {
  const r = await pool.query<{ updated: number }>(
    `WITH upd AS (
       UPDATE ingest.deliveries SET status = $3::text, last_error = $4::text, provider_message_id = COALESCE($5::text, provider_message_id),
         next_attempt_at = CASE WHEN $3::text = 'pending' THEN now() + $6::int * interval '1 millisecond' ELSE next_attempt_at END,
         claim_token = NULL, updated_at = now()
       WHERE seq = $1::bigint AND claim_token = $2::text AND status = 'pending'
       RETURNING seq
     ), ins AS (
       INSERT INTO ingest.outbox (topic, key, schema_id, value)
       SELECT x.topic, x.key, x.schema_id, x.value::jsonb
       FROM unnest($7::text[], $8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS x(topic, key, schema_id, value, n)
       WHERE EXISTS (SELECT 1 FROM upd)
       ORDER BY x.n
       RETURNING id
     )
     SELECT (SELECT count(*) FROM upd)::int AS updated, (SELECT count(*) FROM ins)::int AS inserted`,
    [
      row.seq, token, next.status, next.lastError ?? null, 'providerMessageId' in next ? (next.providerMessageId ?? null) : null, next.status === 'pending' ? Math.round(next.delayMs) : 0,
      events.map((e) => e.topic), events.map((e) => e.key), events.map((e) => e.schemaId), events.map((e) => JSON.stringify(e.value)),
    ],
  );
  return (r.rows[0]?.updated ?? 0) > 0;
}

/** Gives a claimed row back without counting the attempt (shutdown interrupted it). */
export async function releaseClaim(pool: Pool, row: DeliveryRow, token: string): Promise<void> {
  await pool.query(
    `UPDATE ingest.deliveries SET next_attempt_at = now(), attempts = GREATEST(0, attempts - 1), claim_token = NULL, updated_at = now()
     WHERE seq = $1::bigint AND claim_token = $2::text AND status = 'pending'`,
    [row.seq, token],
  );
}
