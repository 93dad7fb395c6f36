import type { PoolClient } from 'pg';
import type { Conversation } from '../domain/conversation';
import type { Announced, AsyncNoticeState } from '../domain/wait-estimate';
import { C_COLUMNS, QUEUE_COLUMNS, toConversation } from './conversations';
import { preparedQuery } from './prepared';

type Querier = Pick<PoolClient, 'query'>;

/**
 * router.wait_notices: what the customer was told about the wait (docs/queue-intelligence.md) —
 * the estimate given when first queued, the last one announced, the async messages sent.
 */

/** The first estimate of conversations queued for the first time in this transaction (also the first announced). */
export async function recordFirstEstimates(client: Querier, rows: { conversationId: string; position: number; estimateMs: number | null; at: Date }[]): Promise<void> {
  if (!rows.length) return;
  await client.query(
    preparedQuery(
      `INSERT INTO router.wait_notices (conversation_id, first_position, first_estimate_ms, first_at, position, estimate_ms, announced_at)
       SELECT id, p, e, a, p, e, a FROM unnest($1::text[], $2::int[], $3::bigint[], $4::timestamptz[]) AS x(id, p, e, a)
       ON CONFLICT (conversation_id) DO NOTHING`,
      [rows.map((r) => r.conversationId), rows.map((r) => r.position), rows.map((r) => r.estimateMs), rows.map((r) => r.at.toISOString())],
    ),
  );
}

export interface Waiting {
  conversation: Conversation;
  announced: Announced;
  async: AsyncNoticeState;
}

/**
 * Queued conversations with an estimate told, in queue order, their notice rows locked (SKIP
 * LOCKED: replicas share the work). The conversations are not locked here: the estimates are read
 * without holding up the matcher, and only the entries with something to announce are locked after
 * (lockStillQueued).
 */
export async function lockWaiting(client: Querier, limit: number): Promise<Waiting[]> {
  const { rows } = await client.query(
    preparedQuery(
      `SELECT ${C_COLUMNS}, ${QUEUE_COLUMNS}, n.position AS n_position, n.estimate_ms AS n_estimate_ms, n.announced_at AS n_at, n.async_sent AS n_sent, n.async_last_ms AS n_last
         FROM router.wait_notices n JOIN router.queue_entries q0 ON q0.conversation_id = n.conversation_id JOIN router.conversations c ON c.id = n.conversation_id
        WHERE c.status = 'queued'
        ORDER BY q0.priority DESC, q0.waiting_since, q0.conversation_id LIMIT $1::int FOR UPDATE OF n SKIP LOCKED`,
      [limit],
    ),
  );
  return rows.map((r) => ({
    conversation: toConversation(r),
    announced: { position: r.n_position as number, estimateMs: r.n_estimate_ms === null ? null : Number(r.n_estimate_ms), at: (r.n_at as Date).getTime() },
    async: { sent: r.n_sent as number, lastMs: r.n_last === null ? null : Number(r.n_last) },
  }));
}

/**
 * Of these conversations, those still in the queue, their entries locked for this transaction
 * (SKIP LOCKED: an entry a match pass holds is being offered and is left out, never waited for).
 */
export async function lockStillQueued(client: Querier, ids: string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ id: string }>(
    preparedQuery('SELECT conversation_id AS id FROM router.queue_entries WHERE conversation_id = ANY($1::text[]) ORDER BY conversation_id FOR UPDATE SKIP LOCKED', [ids]),
  );
  return new Set(rows.map((r) => r.id));
}

/** Saves what was announced and sent (one statement). */
export async function saveNotices(client: Querier, rows: { conversationId: string; announced: Announced; async: AsyncNoticeState }[]): Promise<void> {
  if (!rows.length) return;
  await client.query(
    preparedQuery(
      `UPDATE router.wait_notices n SET position = x.p, estimate_ms = x.e, announced_at = x.a, async_sent = x.s, async_last_ms = x.l
         FROM unnest($1::text[], $2::int[], $3::bigint[], $4::timestamptz[], $5::int[], $6::bigint[]) AS x(id, p, e, a, s, l)
        WHERE n.conversation_id = x.id`,
      [
        rows.map((r) => r.conversationId),
        rows.map((r) => r.announced.position),
        rows.map((r) => r.announced.estimateMs),
        rows.map((r) => new Date(r.announced.at).toISOString()),
        rows.map((r) => r.async.sent),
        rows.map((r) => r.async.lastMs),
      ],
    ),
  );
}
