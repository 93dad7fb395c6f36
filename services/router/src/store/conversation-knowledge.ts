import type { Pool, PoolClient } from 'pg';
import type { SuggestedArticle } from '@omni/knowledge-client';
import type { Conversation, SelfServiceAttempt } from '../domain/conversation';
import type { ConversationChange } from './conversation-save';
import { CONVERSATION_COLUMNS, toConversation } from './conversations';
import { preparedQuery } from './prepared';

/**
 * router.conversation_knowledge (migration 0010, docs/knowledge.md): what the knowledge service
 * said about a conversation when it opened — the suggestions every offer frame carries — and its
 * one self-service attempt. Written at flush with the conversation; read for offer frames, for
 * conversations waiting in self-service, and by the sweep for self-service answers past their deadline.
 */

type Querier = Pick<PoolClient, 'query'>;

/** What an offer frame shows of a suggested article. */
export type OfferSuggestion = Pick<SuggestedArticle, 'id' | 'language' | 'title' | 'category' | 'link' | 'highlight' | 'score' | 'tier'>;

const toAttempt = (r: { self_service_state: SelfServiceAttempt['state']; self_service_articles: string[]; self_service_offered_at: Date; self_service_deadline: Date }): SelfServiceAttempt => ({
  state: r.self_service_state,
  articleIds: r.self_service_articles,
  offeredAt: r.self_service_offered_at,
  deadline: r.self_service_deadline,
});

/** Thread keys that have a live conversation now (a plain read, no lock: the prefetch before the routing transaction). */
export async function liveThreads(pool: Pick<Pool, 'query'>, threadKeys: string[]): Promise<Set<string>> {
  if (threadKeys.length === 0) return new Set();
  const { rows } = await pool.query<{ thread_key: string }>(
    preparedQuery(`SELECT thread_key FROM router.conversations WHERE thread_key = ANY($1::text[]) AND status NOT IN ('resolved', 'closed')`, [threadKeys]),
  );
  return new Set(rows.map((r) => r.thread_key));
}

/** Attaches the self-service attempt to the conversations waiting in self-service (already locked by the caller). */
export async function withSelfService(client: Querier, convs: Conversation[]): Promise<void> {
  const waiting = convs.filter((c) => c.status === 'self-service');
  if (waiting.length === 0) return;
  const { rows } = await client.query(
    preparedQuery(
      `SELECT conversation_id, self_service_state, self_service_articles, self_service_offered_at, self_service_deadline
         FROM router.conversation_knowledge WHERE conversation_id = ANY($1::text[]) AND self_service_state IS NOT NULL`,
      [waiting.map((c) => c.id)],
    ),
  );
  const byId = new Map(rows.map((r) => [r.conversation_id as string, r]));
  for (const c of waiting) {
    const r = byId.get(c.id);
    c.selfService = r ? toAttempt(r as Parameters<typeof toAttempt>[0]) : null;
  }
}

/** Conversations whose self-service answer went unanswered past its deadline at `at`, locked (SKIP LOCKED: another replica's are left to it). */
export async function loadExpiredSelfService(client: Querier, at: Date, limit = 100): Promise<Conversation[]> {
  const cols = CONVERSATION_COLUMNS.split(',')
    .map((c) => `c.${c.trim()}`)
    .join(', ');
  const { rows } = await client.query(
    preparedQuery(
      `SELECT ${cols}, k.self_service_state, k.self_service_articles, k.self_service_offered_at, k.self_service_deadline
         FROM router.conversation_knowledge k JOIN router.conversations c ON c.id = k.conversation_id
        WHERE k.self_service_state = 'offered' AND k.self_service_deadline <= $1::timestamptz AND c.status = 'self-service'
        ORDER BY k.self_service_deadline LIMIT $2::int FOR UPDATE OF c SKIP LOCKED`,
      [at, limit],
    ),
  );
  return rows.map((r) => ({ ...toConversation(r), selfService: toAttempt(r as Parameters<typeof toAttempt>[0]) }));
}

/** Whether any self-service answer still waiting is past its deadline (the sweep's cheap check before it opens a transaction; an erased conversation is closed, not waiting). */
export async function selfServiceDue(pool: Pick<Pool, 'query'>, at: Date): Promise<boolean> {
  const { rows } = await pool.query(
    preparedQuery(
      `SELECT 1 FROM router.conversation_knowledge k JOIN router.conversations c ON c.id = k.conversation_id
        WHERE k.self_service_state = 'offered' AND k.self_service_deadline <= $1::timestamptz AND c.status = 'self-service' LIMIT 1`,
      [at],
    ),
  );
  return rows.length > 0;
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

/**
 * Saves, after the conversations themselves (flush), the suggestions fetched for conversations this
 * transaction opened and every self-service attempt a decision started or ended. One statement.
 */
export async function saveConversationKnowledge(client: Querier, changes: ConversationChange[], suggestions: ReadonlyMap<string, OfferSuggestion[]>): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  for (const { before, after } of changes) {
    const ss = after.selfService;
    const changed = ss && JSON.stringify(ss) !== JSON.stringify(before?.selfService);
    const fetched = !before ? suggestions.get(after.id) : undefined;
    if (!changed && !fetched) continue;
    rows.push({
      conversation_id: after.id,
      // absent (not JSON null) when not fetched here: the column keeps what it has
      ...(fetched ? { suggestions: fetched } : {}),
      state: ss?.state ?? null,
      articles: ss?.articleIds ?? null,
      offered_at: iso(ss?.offeredAt),
      deadline: iso(ss?.deadline),
    });
  }
  if (rows.length === 0) return;
  await client.query(
    preparedQuery(
      `INSERT INTO router.conversation_knowledge (conversation_id, suggestions, self_service_state, self_service_articles, self_service_offered_at, self_service_deadline)
       SELECT r.conversation_id, r.suggestions, r.state, COALESCE(r.articles, '{}'::text[]), r.offered_at, r.deadline
         FROM jsonb_to_recordset($1::jsonb) AS r(conversation_id text, suggestions jsonb, state text, articles text[], offered_at timestamptz, deadline timestamptz)
       ON CONFLICT (conversation_id) DO UPDATE SET
         suggestions = COALESCE(EXCLUDED.suggestions, router.conversation_knowledge.suggestions),
         self_service_state = COALESCE(EXCLUDED.self_service_state, router.conversation_knowledge.self_service_state),
         self_service_articles = CASE WHEN EXCLUDED.self_service_state IS NULL THEN router.conversation_knowledge.self_service_articles ELSE EXCLUDED.self_service_articles END,
         self_service_offered_at = COALESCE(EXCLUDED.self_service_offered_at, router.conversation_knowledge.self_service_offered_at),
         self_service_deadline = COALESCE(EXCLUDED.self_service_deadline, router.conversation_knowledge.self_service_deadline),
         updated_at = now()`,
      [JSON.stringify(rows)],
    ),
  );
}

/**
 * Puts each conversation's stored suggestions on its offer frames (`suggestions`, [] when there are
 * none): from this transaction's own fetch when it opened the conversation, else one read.
 */
export async function attachSuggestions(client: Querier, frames: Record<string, unknown>[], known: ReadonlyMap<string, OfferSuggestion[]>): Promise<void> {
  const offers = frames.filter((f) => f.type === 'offer' && typeof f.conversationId === 'string');
  if (offers.length === 0) return;
  const missing = [...new Set(offers.map((f) => f.conversationId as string).filter((id) => !known.has(id)))];
  const read = new Map<string, OfferSuggestion[]>();
  if (missing.length) {
    const { rows } = await client.query<{ conversation_id: string; suggestions: OfferSuggestion[] | null }>(
      preparedQuery('SELECT conversation_id, suggestions FROM router.conversation_knowledge WHERE conversation_id = ANY($1::text[])', [missing]),
    );
    for (const r of rows) if (r.suggestions) read.set(r.conversation_id, r.suggestions);
  }
  for (const f of offers) {
    const id = f.conversationId as string;
    f.suggestions = known.get(id) ?? read.get(id) ?? [];
  }
}
