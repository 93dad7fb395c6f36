import type { PoolClient } from 'pg';
import type { QueueEntry } from '../domain/conversation';
import type { AgentView, DecisionRecord } from '../domain/decision-record';

type Querier = Pick<PoolClient, 'query'>;

/**
 * Every agent as the decision record sees it (docs/queue-intelligence.md): presence, console
 * attached, load per channel, idle time — not only those the matcher can use, so the record can
 * say why the others were not chosen (offline, away, busy…). One statement, read once per offer
 * transaction that makes offers.
 */
export async function loadAgentViews(client: Querier): Promise<AgentView[]> {
  const { rows } = await client.query<{
    id: string;
    tiers: number[];
    skills: string[];
    languages: string[];
    capacity: Record<string, number>;
    load: Record<string, number>;
    idle_since: Date;
    presence: AgentView['presence'];
    connected: boolean;
  }>(
    `SELECT a.id, a.tiers, a.skills, a.languages, a.capacity, a.idle_since, a.presence, a.session_id IS NOT NULL AS connected,
            COALESCE((SELECT jsonb_object_agg(channel, n) FROM (SELECT c.channel, count(*)::int AS n FROM router.conversations c
              WHERE c.agent_id = a.id AND c.status IN ('offered', 'assigned') GROUP BY c.channel) x), '{}'::jsonb) AS load
       FROM router.agents a ORDER BY a.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    tiers: r.tiers,
    skills: r.skills,
    languages: r.languages,
    capacity: r.capacity,
    load: r.load,
    idleSince: r.idle_since,
    presence: r.presence,
    consoleAttached: r.connected,
  }));
}

/** Stores the decision records of the offers this transaction made (one statement). */
export async function insertDecisions(client: Querier, rows: { conversationId: string; agentId: string; at: Date; record: DecisionRecord }[]): Promise<void> {
  if (!rows.length) return;
  await client.query(
    `INSERT INTO router.offer_decisions (conversation_id, agent_id, decided_at, record)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[])`,
    [rows.map((r) => r.conversationId), rows.map((r) => r.agentId), rows.map((r) => r.at.toISOString()), rows.map((r) => JSON.stringify(r.record))],
  );
}

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
