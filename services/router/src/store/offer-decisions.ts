import type { PoolClient } from 'pg';
import type { QueueEntry } from '../domain/conversation';
import type { AgentView, DecisionRecord } from '../domain/decision-record';
import type { WrapUp } from '../domain/wrap-up';
import { LOAD_SQL } from './agents';
import { preparedQuery } from './prepared';

type Querier = Pick<PoolClient, 'query'>;

const AGENT_VIEW_JSON = `jsonb_build_object('id', a.id, 'tiers', a.tiers, 'skills', a.skills, 'languages', a.languages, 'capacity', a.capacity, 'proficiency', a.proficiency,
    'idleSince', a.idle_since, 'presence', a.presence, 'awayReason', a.away_reason, 'consoleAttached', a.session_id IS NOT NULL,
    'wrapUpUntil', (SELECT max(w.until) FROM router.agent_wrap_ups w WHERE w.agent_id = a.id AND w.until > now()),
    'load', ${LOAD_SQL})`;

type AgentJson = Omit<AgentView, 'idleSince' | 'wrapUpUntil'> & { idleSince: string; wrapUpUntil: string | null };
const toView = (a: AgentJson): AgentView => ({ ...a, idleSince: new Date(a.idleSince), wrapUpUntil: a.wrapUpUntil ? new Date(a.wrapUpUntil) : null });

/**
 * Every agent as the decision record sees it (docs/queue-intelligence.md): presence, console
 * attached, load per channel, idle time — not only those the matcher can use, so the record can
 * say why the others were not chosen (offline, away, busy…) — and the rule that classified each of
 * these conversations. One statement, read once per offer transaction that makes offers.
 */
export async function loadDecisionInputs(client: Querier, conversationIds: string[]): Promise<{ agents: AgentView[]; rules: Map<string, { ruleId: string | null; ruleVersion: number | null }> }> {
  const { rows } = await client.query<{ agents: AgentJson[] | null; rules: Record<string, { ruleId: string | null; ruleVersion: number | null }> | null }>(
    preparedQuery(
      `SELECT (SELECT jsonb_agg(${AGENT_VIEW_JSON} ORDER BY a.id) FROM router.agents a) AS agents,
              (SELECT jsonb_object_agg(c.id, jsonb_build_object('ruleId', c.rule_id, 'ruleVersion', c.rule_version)) FROM router.conversations c WHERE c.id = ANY($1::text[])) AS rules`,
      [conversationIds],
    ),
  );
  return { agents: (rows[0]?.agents ?? []).map(toView), rules: new Map(Object.entries(rows[0]?.rules ?? {})) };
}

/** Every agent as the decision record sees it ("why waiting"). */
export async function loadAgentViews(client: Querier): Promise<AgentView[]> {
  return (await loadDecisionInputs(client, [])).agents;
}

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
