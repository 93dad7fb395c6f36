import type { PoolClient } from 'pg';
import { outboxInsert, type OutboxRecord } from '@omni/kafka';
import type { Conversation, Participant, QueueEntry } from '../domain/conversation';
import type { AgentState } from '../domain/lifecycle';
import { preparedQuery } from './prepared';

/** A conversation as loaded (null: opened in this transaction) and as decided. */
export interface ConversationChange {
  before: Conversation | null;
  after: Conversation;
  /** for a new conversation: the rule that classified it */
  rule?: { id: string | null; version: number };
}

/** What decisions did to an agent row: merged per agent over a transaction. */
export interface AgentChange {
  idleSince?: Date;
  resetTimeouts?: boolean;
  /** the agent lifecycle's new state (a lapsed offer: streak, maybe away) */
  state?: AgentState;
}

export interface SaveSet {
  conversations: ConversationChange[];
  agents: Map<string, AgentChange>;
  messages: { message_id: string; conversation_id: string; received_at: string }[];
  outbox: OutboxRecord[];
  /** the decision records of the offers made (router.offer_decisions, docs/queue-intelligence.md) */
  decisions?: { conversationId: string; agentId: string; at: Date; record: unknown }[];
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const rowOf = (c: Conversation) => ({
  id: c.id,
  status: c.status,
  tier: c.tier,
  agent_id: c.agentId,
  waiting_since: iso(c.waitingSince),
  offer_deadline: iso(c.offerDeadline),
  declined_agents: c.declinedAgents,
  handoff_notes: c.handoffNotes,
  escalations: c.escalations,
  last_agent_id: c.lastAgentId,
  last_message_id: c.lastMessageId,
  last_text: c.lastText,
  resolved_at: iso(c.resolvedAt),
});

const queueOf = (id: string, tier: number, q: QueueEntry) => ({
  conversation_id: id,
  tier,
  priority: q.priority,
  waiting_since: q.waitingSince.toISOString(),
  tiers: q.tiers,
  sla_deadline: iso(q.slaDeadline),
  overflows: q.overflows,
  preferred_agent_id: q.preferredAgentId,
});

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

// One statement writes everything a routing transaction decided: new conversations, changed ones,
// queue entries, collaborators, agent rows, messages, outbox rows and offer decision records. Each part is a CTE over a
// json parameter (empty when there is nothing of that kind), so the text is fixed and prepared once
// per connection. A queue entry or message of a conversation inserted by the same statement passes
// its foreign key check: the checks run when the whole statement is done.
const outbox = outboxInsert('router', [], 9);
const SAVE_SQL = `WITH
 n AS (INSERT INTO router.conversations (id, thread_key, channel, customer, customer_key, status, tier, category, priority, language, agent_id, opened_at,
         required_skills, customer_attributes, rule_id, rule_version, waiting_since, offer_deadline, declined_agents, handoff_notes, escalations,
         last_agent_id, last_message_id, last_text, resolved_at)
       SELECT r.id, r.thread_key, r.channel, r.customer, r.customer_key, r.status, r.tier, r.category, r.priority, r.language, r.agent_id, r.opened_at,
         r.required_skills, r.customer_attributes, r.rule_id, r.rule_version, r.waiting_since, r.offer_deadline, r.declined_agents, r.handoff_notes, r.escalations,
         r.last_agent_id, r.last_message_id, r.last_text, r.resolved_at
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, thread_key text, channel text, customer jsonb, customer_key text, status text, tier int, category text,
              priority int, language text, agent_id text, opened_at timestamptz, required_skills text[], customer_attributes jsonb, rule_id text, rule_version int,
              waiting_since timestamptz, offer_deadline timestamptz, declined_agents text[], handoff_notes jsonb, escalations int,
              last_agent_id text, last_message_id text, last_text text, resolved_at timestamptz)),
 u AS (UPDATE router.conversations c SET status = r.status, tier = r.tier, agent_id = r.agent_id, waiting_since = r.waiting_since, offer_deadline = r.offer_deadline,
         declined_agents = r.declined_agents, handoff_notes = r.handoff_notes, escalations = r.escalations, last_agent_id = r.last_agent_id,
         last_message_id = r.last_message_id, last_text = r.last_text, resolved_at = r.resolved_at, updated_at = now()
         FROM jsonb_to_recordset($2::jsonb) AS r(id text, status text, tier int, agent_id text, waiting_since timestamptz, offer_deadline timestamptz,
              declined_agents text[], handoff_notes jsonb, escalations int, last_agent_id text, last_message_id text, last_text text, resolved_at timestamptz)
        WHERE c.id = r.id),
 qd AS (DELETE FROM router.queue_entries q WHERE q.conversation_id = ANY($3::text[])),
 qu AS (INSERT INTO router.queue_entries (conversation_id, tier, priority, waiting_since, tiers, sla_deadline, overflows, preferred_agent_id)
        SELECT r.conversation_id, r.tier, r.priority, r.waiting_since, r.tiers, r.sla_deadline, r.overflows, r.preferred_agent_id
          FROM jsonb_to_recordset($4::jsonb) AS r(conversation_id text, tier int, priority int, waiting_since timestamptz, tiers int[], sla_deadline timestamptz,
               overflows int, preferred_agent_id text)
        ON CONFLICT (conversation_id) DO UPDATE SET tier = EXCLUDED.tier, priority = EXCLUDED.priority, waiting_since = EXCLUDED.waiting_since,
          tiers = EXCLUDED.tiers, sla_deadline = EXCLUDED.sla_deadline, overflows = EXCLUDED.overflows, preferred_agent_id = EXCLUDED.preferred_agent_id),
 pd AS (DELETE FROM router.conversation_participants p USING jsonb_to_recordset($5::jsonb) AS r(conversation_id text, agent_id text)
         WHERE p.conversation_id = r.conversation_id AND (r.agent_id IS NULL OR p.agent_id = r.agent_id)),
 pu AS (INSERT INTO router.conversation_participants (conversation_id, agent_id, role, invited_by)
        SELECT r.conversation_id, r.agent_id, r.role, r.invited_by FROM jsonb_to_recordset($6::jsonb) AS r(conversation_id text, agent_id text, role text, invited_by text)
        ON CONFLICT (conversation_id, agent_id) DO UPDATE SET role = EXCLUDED.role),
 au AS (UPDATE router.agents a SET idle_since = COALESCE(r.idle_since, a.idle_since),
          consecutive_timeouts = CASE WHEN r.timeouts IS NOT NULL THEN r.timeouts WHEN r.reset THEN 0 ELSE a.consecutive_timeouts END,
          presence = COALESCE(r.presence, a.presence), updated_at = CASE WHEN r.presence IS NOT NULL AND r.presence <> a.presence THEN now() ELSE a.updated_at END
          FROM jsonb_to_recordset($7::jsonb) AS r(id text, idle_since timestamptz, reset boolean, timeouts int, presence text)
         -- an accept's reset touches the row only when there is a streak: an UPDATE that matches no row takes no row lock
         WHERE a.id = r.id AND (r.idle_since IS NOT NULL OR r.timeouts IS NOT NULL OR r.presence IS NOT NULL OR (r.reset AND a.consecutive_timeouts <> 0))),
 m AS (INSERT INTO router.conversation_messages (message_id, conversation_id, received_at)
       SELECT r.message_id, r.conversation_id, r.received_at FROM jsonb_to_recordset($8::jsonb) AS r(message_id text, conversation_id text, received_at timestamptz)),
 o AS (${outbox.sql}),
 d AS (INSERT INTO router.offer_decisions (conversation_id, agent_id, decided_at, record)
       SELECT * FROM unnest($13::text[], $14::text[], $15::timestamptz[], $16::jsonb[]))
SELECT 1`;

/** Writes what a transaction decided in one statement (nothing at all when it decided nothing). */
export async function saveDecided(client: Pick<PoolClient, 'query'>, s: SaveSet): Promise<boolean> {
  const inserts: Record<string, unknown>[] = [];
  const updates: ReturnType<typeof rowOf>[] = [];
  const queueDeletes: string[] = [];
  const queueUpserts: ReturnType<typeof queueOf>[] = [];
  const partDeletes: { conversation_id: string; agent_id: string | null }[] = [];
  const partUpserts: { conversation_id: string; agent_id: string; role: string; invited_by: string }[] = [];
  for (const { before, after, rule } of s.conversations) {
    const row = rowOf(after);
    if (!before)
      inserts.push({
        ...row,
        thread_key: after.threadKey,
        channel: after.channel,
        customer: after.customer,
        customer_key: after.customerKey,
        category: after.category,
        priority: after.priority,
        language: after.language,
        opened_at: after.openedAt.toISOString(),
        required_skills: after.requiredSkills,
        customer_attributes: after.customerAttributes,
        rule_id: rule?.id ?? null,
        rule_version: rule?.version ?? null,
      });
    else if (!same(rowOf(before), row)) updates.push(row);
    if (after.queue === null && before && before.queue !== null) queueDeletes.push(after.id);
    if (after.queue && !same(before?.queue, after.queue)) queueUpserts.push(queueOf(after.id, after.tier, after.queue));
    if (after.participants && before) {
      const was: Participant[] | undefined = before.participants;
      if (!was) partDeletes.push({ conversation_id: after.id, agent_id: null });
      for (const p of was ?? []) if (!after.participants.some((x) => x.agentId === p.agentId)) partDeletes.push({ conversation_id: after.id, agent_id: p.agentId });
      for (const p of after.participants)
        if (!was || !was.some((x) => same(x, p))) partUpserts.push({ conversation_id: after.id, agent_id: p.agentId, role: p.role, invited_by: p.invitedBy });
    }
  }
  const agents = [...s.agents]
    .map(([id, a]) => ({
      id,
      idle_since: iso(a.idleSince ?? null),
      reset: a.resetTimeouts === true,
      timeouts: a.state?.consecutiveTimeouts ?? null,
      presence: a.state?.presence ?? null,
    }))
    .filter((a) => a.idle_since || a.reset || a.timeouts !== null || a.presence);
  const decisions = s.decisions ?? [];
  const nothing =
    inserts.length + updates.length + queueDeletes.length + queueUpserts.length + partDeletes.length + partUpserts.length + agents.length + s.messages.length + s.outbox.length + decisions.length ===
    0;
  if (nothing) return false;
  const ob = outboxInsert('router', s.outbox, 9);
  await client.query(
    preparedQuery(SAVE_SQL, [
      JSON.stringify(inserts),
      JSON.stringify(updates),
      queueDeletes,
      JSON.stringify(queueUpserts),
      JSON.stringify(partDeletes),
      JSON.stringify(partUpserts),
      JSON.stringify(agents),
      JSON.stringify(s.messages),
      ...ob.params,
      decisions.map((r) => r.conversationId),
      decisions.map((r) => r.agentId),
      decisions.map((r) => r.at.toISOString()),
      decisions.map((r) => JSON.stringify(r.record)),
    ]),
  );
  return true;
}
