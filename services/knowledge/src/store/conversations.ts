import type { Pool, PoolClient } from 'pg';
import type { ConversationEvent } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { applyEvent, type ConversationOutcome } from '../domain/conversation-outcome';

/**
 * Applies a batch of omni.conversations.v1 events in one transaction: events already applied (ids in
 * processed_events) are skipped, so a batch redelivered after a crash changes nothing; the offsets
 * are committed by the consumer only after this transaction commits.
 */
export async function applyConversationEvents(pool: Pool, events: ConversationEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  return withTransaction(pool, async (c) => {
    const fresh = await c.query<{ event_id: string }>(
      `INSERT INTO knowledge.processed_events (event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id`,
      [events.map((e) => e.eventId)],
    );
    const isFresh = new Set(fresh.rows.map((r) => r.event_id));
    const todo = events.filter((e) => isFresh.has(e.eventId));
    if (todo.length === 0) return 0;
    const ids = [...new Set(todo.map((e) => e.conversationId))];
    const existing = await c.query(
      `SELECT id, category, language, channel, status, opened_at, resolved_at, escalations, last_escalated_at, updated_at
       FROM knowledge.conversations WHERE id = ANY($1::text[]) FOR UPDATE`,
      [ids],
    );
    const state = new Map<string, ConversationOutcome>();
    const iso = (v: Date | null) => (v ? v.toISOString() : null);
    for (const r of existing.rows) {
      state.set(r.id, {
        id: r.id,
        category: r.category,
        language: r.language,
        channel: r.channel,
        status: r.status,
        openedAt: iso(r.opened_at),
        resolvedAt: iso(r.resolved_at),
        escalations: r.escalations,
        lastEscalatedAt: iso(r.last_escalated_at),
        updatedAt: iso(r.updated_at)!,
      });
    }
    const seen = new Set<string>();
    for (const e of todo) {
      // the same event id twice inside one batch is applied once
      if (seen.has(e.eventId)) continue;
      seen.add(e.eventId);
      state.set(e.conversationId, applyEvent(state.get(e.conversationId), e));
    }
    const rows = [...state.values()].filter((o) => ids.includes(o.id));
    await c.query(
      `INSERT INTO knowledge.conversations (id, category, language, channel, status, opened_at, resolved_at, escalations, last_escalated_at, updated_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::int[], $9::timestamptz[], $10::timestamptz[])
       ON CONFLICT (id) DO UPDATE SET category = EXCLUDED.category, language = EXCLUDED.language, status = EXCLUDED.status,
         opened_at = EXCLUDED.opened_at, resolved_at = EXCLUDED.resolved_at, escalations = EXCLUDED.escalations,
         last_escalated_at = EXCLUDED.last_escalated_at, updated_at = EXCLUDED.updated_at`,
      [
        rows.map((o) => o.id),
        rows.map((o) => o.category),
        rows.map((o) => o.language),
        rows.map((o) => o.channel),
        rows.map((o) => o.status),
        rows.map((o) => o.openedAt),
        rows.map((o) => o.resolvedAt),
        rows.map((o) => o.escalations),
        rows.map((o) => o.lastEscalatedAt),
        rows.map((o) => o.updatedAt),
      ],
    );
    await applySelfService(c, todo);
    return todo.length;
  });
}

/** The sender of the router's self-service answers (its uses are the articles it offered). */
export const SELF_SERVICE_USER = 'system:self-service';

/**
 * Self-service outcomes (docs/knowledge.md): `conversation.self-service-offered` records a use per
 * offered article (data.articleIds; an id this service does not know is skipped); the
 * `conversation.queued` that ends a declined or unanswered offer (data.selfService) marks them declined.
 */
async function applySelfService(c: PoolClient, events: ConversationEvent[]): Promise<void> {
  const uses: { article: string; conversation: string; at: string }[] = [];
  const declined: { conversation: string; at: string }[] = [];
  for (const e of events) {
    const data = (e.data ?? {}) as { articleIds?: unknown; selfService?: unknown };
    if (e.type === 'conversation.self-service-offered' && Array.isArray(data.articleIds))
      for (const id of data.articleIds.slice(0, 20)) if (typeof id === 'string') uses.push({ article: id, conversation: e.conversationId, at: e.occurredAt });
    if (e.type === 'conversation.queued' && typeof data.selfService === 'string') declined.push({ conversation: e.conversationId, at: e.occurredAt });
  }
  if (uses.length)
    await c.query(
      `INSERT INTO knowledge.article_uses (article_id, conversation_id, used_by, used_at)
       SELECT u.a, u.c, $4::text, u.t FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(a, c, t)
       JOIN knowledge.articles a ON a.id = u.a
       ON CONFLICT (article_id, conversation_id) DO NOTHING`,
      [uses.map((u) => u.article), uses.map((u) => u.conversation), uses.map((u) => u.at), SELF_SERVICE_USER],
    );
  if (declined.length)
    await c.query(
      `UPDATE knowledge.article_uses u SET declined_at = d.t FROM unnest($1::text[], $2::timestamptz[]) AS d(c, t)
       WHERE u.conversation_id = d.c AND u.used_by = $3::text AND u.declined_at IS NULL`,
      [declined.map((d) => d.conversation), declined.map((d) => d.at), SELF_SERVICE_USER],
    );
}
