import type { PoolClient } from 'pg';
import type { QueueEntry } from '../domain/conversation';
import type { DecisionRecord } from '../domain/decision-record';
import type { WrapUp } from '../domain/wrap-up';

type Querier = Pick<PoolClient, 'query'>;

// The decision records of the offers a transaction made are stored by its save statement (conversation-save.ts).

/** A conversation's offer decisions, newest first. */
export async function listDecisions(client: Querier, conversationId: string, limit = 20): Promise<DecisionRecord[]> {
  const { rows } = await client.query<{ record: DecisionRecord }>(
    `SELECT record FROM router.offer_decisions WHERE conversation_id = $1::text ORDER BY decided_at DESC, agent_id LIMIT $2::int`,
    [conversationId, limit],
  );
  return rows.map((r) => r.record);
}

/** A conversation's queue entry, unlocked (read-only views such as "why waiting"); null when it is not queued. */
export async function readQueueEntry(client: Querier, conversationId: string): Promise<QueueEntry | null> {
  const { rows } = await client.query<{ tiers: number[]; priority: number; waiting_since: Date; sla_deadline: Date | null; overflows: number; preferred_agent_id: string | null }>(
    `SELECT tiers, priority, waiting_since, sla_deadline, overflows, preferred_agent_id FROM router.queue_entries WHERE conversation_id = $1::text`,
    [conversationId],
  );
  const r = rows[0];
  return r ? { tiers: r.tiers, priority: r.priority, waitingSince: r.waiting_since, slaDeadline: r.sla_deadline, overflows: r.overflows, preferredAgentId: r.preferred_agent_id } : null;
}

/** Starts wrap-up for resolved conversations (one statement). */
export async function insertWrapUps(client: Querier, rows: (WrapUp & { agentId: string })[]): Promise<void> {
  if (!rows.length) return;
  await client.query(
    // ended entries are removed by the sweep, which publishes agent.wrap-up-ended for each (routing/wrap-up-events.ts)
    `INSERT INTO router.agent_wrap_ups (agent_id, conversation_id, channel, since, until)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])
     ON CONFLICT (agent_id, conversation_id) DO UPDATE SET channel = EXCLUDED.channel, since = EXCLUDED.since, until = EXCLUDED.until`,
    [rows.map((r) => r.agentId), rows.map((r) => r.conversationId), rows.map((r) => r.channel), rows.map((r) => r.since.toISOString()), rows.map((r) => r.until.toISOString())],
  );
}
