import type { Pool } from 'pg';

export interface TimelineItem {
  eventId: string;
  customerId: string;
  occurredAt: string;
  kind: string;
  channel: string;
  conversationId: string | null;
  tier: number | null;
  agentId: string | null;
  payload: Record<string, unknown>;
}

export interface TimelineQuery {
  customers: string[];
  channel?: string;
  conversationId?: string;
  from?: string;
  to?: string;
  after?: { at: string; seq: string } | null;
  limit: number;
}

/**
 * Reads a customer view's timeline in (occurred_at, seq) order: the rows of every customer in the
 * view, so a merge shows both histories and an unmerge shows each its own again, with no row moved.
 * Inbound messages carry the conversation the router attached them to (message_conversations), so
 * a conversation filter returns them too.
 */
export async function readTimeline(pool: Pool, q: TimelineQuery): Promise<{ items: TimelineItem[]; next: { at: string; seq: string } | null }> {
  const { rows } = await pool.query(
    `SELECT t.seq, t.event_id, t.customer_id, t.occurred_at, t.kind, t.channel, COALESCE(t.conversation_id, m.conversation_id) AS conversation_id,
            COALESCE(t.tier, m.tier) AS tier, t.agent_id, t.payload
       FROM history.timeline t LEFT JOIN history.message_conversations m ON m.message_id = t.event_id
      WHERE t.customer_id = ANY($1::text[])
        AND ($2::text IS NULL OR t.channel = $2::text)
        AND ($3::text IS NULL OR COALESCE(t.conversation_id, m.conversation_id) = $3::text)
        AND ($4::timestamptz IS NULL OR t.occurred_at >= $4::timestamptz)
        AND ($5::timestamptz IS NULL OR t.occurred_at < $5::timestamptz)
        AND ($6::timestamptz IS NULL OR (t.occurred_at, t.seq) > ($6::timestamptz, $7::bigint))
      ORDER BY t.occurred_at, t.seq
      LIMIT $8::int`,
    [q.customers, q.channel ?? null, q.conversationId ?? null, q.from ?? null, q.to ?? null, q.after?.at ?? null, q.after?.seq ?? null, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      eventId: r.event_id,
      customerId: r.customer_id,
      occurredAt: r.occurred_at.toISOString(),
      kind: r.kind,
      channel: r.channel,
      conversationId: r.conversation_id,
      tier: r.tier,
      agentId: r.agent_id,
      payload: r.payload,
    })),
    next: rows.length > q.limit && last ? { at: last.occurred_at.toISOString(), seq: String(last.seq) } : null,
  };
}

/** Every row of one conversation, with the inbound messages its events reference, in order. */
export async function conversationRows(pool: Pool, conversationId: string, messageIds: string[]): Promise<TimelineItem[]> {
  const { rows } = await pool.query(
    `SELECT seq, event_id, customer_id, occurred_at, kind, channel, conversation_id, tier, agent_id, payload
       FROM history.timeline WHERE conversation_id = $1::text OR event_id = ANY($2::text[])
      ORDER BY occurred_at, seq`,
    [conversationId, messageIds],
  );
  return rows.map((r) => ({
    eventId: r.event_id,
    customerId: r.customer_id,
    occurredAt: r.occurred_at.toISOString(),
    kind: r.kind,
    channel: r.channel,
    conversationId: r.conversation_id ?? conversationId,
    tier: r.tier,
    agentId: r.agent_id,
    payload: r.payload,
  }));
}
