import type { Pool, PoolClient } from 'pg';
import { projectConversation, type ConversationProjection, type ConversationRow } from '../domain/conversation-projection';
import { lockKeys } from './link-customers';

type Db = Pool | PoolClient;

/**
 * Recomputes the projection of each conversation from all its timeline rows and upserts it. Takes a
 * per-conversation advisory lock first: two batches (say outbound and conversations partitions)
 * adding rows to one conversation then project one after the other, and the second sees both rows.
 */
export async function refreshConversations(client: PoolClient, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await lockKeys(client, ids.map((id) => `conv:${id}`));
  const r = await client.query<{
    seq: string;
    event_id: string;
    kind: string;
    occurred_at: Date;
    customer_id: string;
    channel: string;
    thread_key: string | null;
    tier: number | null;
    agent_id: string | null;
    conversation_id: string;
    category: string | null;
    message_id: string | null;
    from_tier: number | null;
    to_agent_id: string | null;
    handoff_note: string | null;
    reason: string | null;
    score: number | null;
    comment: string | null;
    estimate: unknown;
  }>(
    // only the routing fields the projection reads: message bodies and parties stay in the database
    `SELECT seq, event_id, kind, occurred_at, customer_id, channel, thread_key, tier, agent_id, conversation_id,
            payload->>'category' AS category, payload->>'messageId' AS message_id, (payload->>'fromTier')::int AS from_tier,
            payload->>'toAgentId' AS to_agent_id, payload->>'handoffNote' AS handoff_note, payload->>'reason' AS reason,
            CASE WHEN kind = 'csat.submitted' THEN (payload->>'score')::int END AS score,
            CASE WHEN kind = 'csat.submitted' THEN payload->>'comment' END AS comment,
            CASE WHEN kind = 'conversation.queued' THEN payload->'data'->'estimate' END AS estimate
       FROM history.timeline WHERE conversation_id = ANY($1::text[])`,
    [ids],
  );
  const byConv = new Map<string, ConversationRow[]>();
  for (const row of r.rows) {
    const list = byConv.get(row.conversation_id) ?? [];
    const payload: Record<string, unknown> = {};
    if (row.tier !== null) payload.tier = row.tier;
    if (row.category !== null) payload.category = row.category;
    if (row.message_id !== null) payload.messageId = row.message_id;
    if (row.from_tier !== null) payload.fromTier = row.from_tier;
    if (row.to_agent_id !== null) payload.toAgentId = row.to_agent_id;
    if (row.handoff_note !== null) payload.handoffNote = row.handoff_note;
    if (row.reason !== null) payload.reason = row.reason;
    if (row.score !== null) payload.score = row.score;
    if (row.comment !== null) payload.comment = row.comment;
    if (row.estimate !== null && row.estimate !== undefined) payload.estimate = row.estimate;
    list.push({
      eventId: row.event_id,
      seq: Number(row.seq),
      kind: row.kind,
      occurredAt: row.occurred_at.toISOString(),
      customerId: row.customer_id,
      channel: row.channel,
      threadKey: row.thread_key,
      tier: row.tier,
      agentId: row.agent_id,
      payload,
    });
    byConv.set(row.conversation_id, list);
  }
  const projections = [...byConv].map(([id, rows]) => projectConversation(id, rows)).filter((p): p is ConversationProjection => p !== null);
  if (projections.length === 0) return;
  // the first event naming a message (opened or message) says which conversation and tier it joined
  const links = new Map<string, { conversationId: string; tier: number | null }>();
  for (const [id, rows] of byConv)
    for (const row of [...rows].sort((a, b) => a.seq - b.seq)) {
      const m = row.payload.messageId;
      if (typeof m === 'string' && !links.has(m)) links.set(m, { conversationId: id, tier: row.tier });
    }
  if (links.size > 0)
    await client.query(
      `INSERT INTO history.message_conversations (message_id, conversation_id, tier)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) ON CONFLICT (message_id) DO NOTHING`,
      [[...links.keys()], [...links.values()].map((l) => l.conversationId), [...links.values()].map((l) => l.tier)],
    );
  await client.query(
    `INSERT INTO history.conversations (id, customer_id, channel, thread_key, category, status, first_tier, tier, resolved_tier, tier_path, agents,
                                        escalations, queue_waits, message_ids, opened_at, first_response_at, resolved_at, csat_score, csat_comment,
                                        csat_at, last_event_at, wait_estimate, self_service_offered, resolved_reason, updated_at)
     SELECT x.id, x."customerId", x.channel, x."threadKey", x.category, x.status, x."firstTier", x.tier, x."resolvedTier",
            ARRAY(SELECT jsonb_array_elements_text(x."tierPath"))::int[], ARRAY(SELECT jsonb_array_elements_text(x.agents)),
            x.escalations, x."queueWaits", ARRAY(SELECT jsonb_array_elements_text(x."messageIds")), x."openedAt", x."firstResponseAt",
            x."resolvedAt", x."csatScore", x."csatComment", x."csatAt", x."lastEventAt", x."waitEstimate", x."selfServiceOffered", x."resolvedReason", now()
       FROM jsonb_to_recordset($1::jsonb) AS x(id text, "customerId" text, channel text, "threadKey" text, category text, status text,
            "firstTier" int, tier int, "resolvedTier" int, "tierPath" jsonb, agents jsonb, escalations jsonb, "queueWaits" jsonb,
            "messageIds" jsonb, "openedAt" timestamptz, "firstResponseAt" timestamptz, "resolvedAt" timestamptz, "csatScore" int,
            "csatComment" text, "csatAt" timestamptz, "lastEventAt" timestamptz, "waitEstimate" jsonb, "selfServiceOffered" boolean, "resolvedReason" text)
     ON CONFLICT (id) DO UPDATE SET customer_id = EXCLUDED.customer_id, channel = EXCLUDED.channel, thread_key = EXCLUDED.thread_key,
       category = EXCLUDED.category, status = EXCLUDED.status, first_tier = EXCLUDED.first_tier, tier = EXCLUDED.tier,
       resolved_tier = EXCLUDED.resolved_tier, tier_path = EXCLUDED.tier_path, agents = EXCLUDED.agents, escalations = EXCLUDED.escalations,
       queue_waits = EXCLUDED.queue_waits, message_ids = EXCLUDED.message_ids, opened_at = EXCLUDED.opened_at,
       first_response_at = EXCLUDED.first_response_at, resolved_at = EXCLUDED.resolved_at, csat_score = EXCLUDED.csat_score,
       csat_comment = EXCLUDED.csat_comment, csat_at = EXCLUDED.csat_at, last_event_at = EXCLUDED.last_event_at,
       wait_estimate = EXCLUDED.wait_estimate, self_service_offered = EXCLUDED.self_service_offered, resolved_reason = EXCLUDED.resolved_reason, updated_at = now()`,
    [JSON.stringify(projections)],
  );
}

export interface ConversationRecord extends ConversationProjection {
  rootCustomerId: string;
}

/** One conversation's projection with the customer that currently represents its customer. */
export async function loadConversation(db: Db, id: string, forUpdate = false): Promise<ConversationRecord | null> {
  const r = await db.query(
    `SELECT c.*, history.root_customer(c.customer_id) AS root FROM history.conversations c WHERE c.id = $1::text${forUpdate ? ' FOR UPDATE OF c' : ''}`,
    [id],
  );
  const row = r.rows[0];
  return row ? rowToConversation(row) : null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function rowToConversation(row: any): ConversationRecord {
  return {
    id: row.id,
    customerId: row.customer_id,
    rootCustomerId: row.root ?? row.customer_id,
    channel: row.channel,
    threadKey: row.thread_key,
    category: row.category,
    status: row.status,
    firstTier: row.first_tier,
    tier: row.tier,
    resolvedTier: row.resolved_tier,
    tierPath: row.tier_path,
    agents: row.agents,
    escalations: row.escalations,
    queueWaits: row.queue_waits,
    messageIds: row.message_ids,
    openedAt: iso(row.opened_at),
    firstResponseAt: iso(row.first_response_at),
    resolvedAt: iso(row.resolved_at),
    csatScore: row.csat_score,
    csatComment: row.csat_comment,
    csatAt: iso(row.csat_at),
    lastEventAt: row.last_event_at.toISOString(),
    waitEstimate: row.wait_estimate ?? null,
    selfServiceOffered: row.self_service_offered ?? false,
    resolvedReason: row.resolved_reason ?? null,
  };
}
