import type { PoolClient } from 'pg';
import type { Conversation, Participant, QueueEntry } from '../domain/conversation';
import type { RecentConversation } from '../domain/offer-context';
import { preparedQuery } from './prepared';
import type { StoredRules } from './agents';

/**
 * Reads of router.conversations for the lifecycle: each returns conversations with their queue
 * entry and collaborators (the whole state decide() works on), locked where the caller is about to
 * decide over them. Writes are in conversation-save.ts.
 */

type Querier = Pick<PoolClient, 'query'>;

export const CONVERSATION_COLUMNS = `id, thread_key, channel, customer, customer_key, status, tier, category, priority, language, agent_id,
  required_skills, customer_attributes, waiting_since, offer_deadline, declined_agents, handoff_notes, escalations,
  last_agent_id, last_message_id, last_text, opened_at, resolved_at`;

export const C_COLUMNS = CONVERSATION_COLUMNS.split(',')
  .map((c) => `c.${c.trim()}`)
  .join(', ');

/**
 * A queue entry's columns from the locked entry itself (alias q0): a row locked after a wait (or
 * SKIP LOCKED) is re-read at its latest version, but a subquery would still see the statement's
 * snapshot. Collaborators are read in a statement of their own for the same reason (participantsOf),
 * after the conversation's lock is held: every change to them is made under that lock.
 */
export const QUEUE_COLUMNS = `jsonb_build_object('tiers', q0.tiers, 'priority', q0.priority, 'waitingSince', q0.waiting_since, 'slaDeadline', q0.sla_deadline,
    'overflows', q0.overflows, 'preferredAgentId', q0.preferred_agent_id) AS queue_state`;

interface QueueJson {
  tiers: number[];
  priority: number;
  waitingSince: string;
  slaDeadline: string | null;
  overflows: number;
  preferredAgentId: string | null;
}

const toQueue = (q: QueueJson | null): QueueEntry | null =>
  q && {
    tiers: q.tiers,
    priority: q.priority,
    waitingSince: new Date(q.waitingSince),
    slaDeadline: q.slaDeadline ? new Date(q.slaDeadline) : null,
    overflows: q.overflows,
    preferredAgentId: q.preferredAgentId,
  };

/** Maps a row selected with CONVERSATION_COLUMNS (and, when present, the state columns). */
export function toConversation(r: Record<string, unknown>): Conversation {
  return {
    id: r.id as string,
    threadKey: r.thread_key as string,
    channel: r.channel as Conversation['channel'],
    customer: r.customer as Conversation['customer'],
    customerKey: r.customer_key as string | null,
    status: r.status as Conversation['status'],
    tier: r.tier as number,
    category: r.category as string,
    priority: r.priority as number,
    language: r.language as string | null,
    agentId: r.agent_id as string | null,
    requiredSkills: r.required_skills as string[],
    customerAttributes: r.customer_attributes as Record<string, unknown>,
    waitingSince: r.waiting_since as Date | null,
    offerDeadline: r.offer_deadline as Date | null,
    declinedAgents: r.declined_agents as string[],
    handoffNotes: r.handoff_notes as Conversation['handoffNotes'],
    escalations: r.escalations as number,
    lastAgentId: r.last_agent_id as string | null,
    lastMessageId: r.last_message_id as string | null,
    lastText: r.last_text as string | null,
    openedAt: r.opened_at as Date,
    resolvedAt: r.resolved_at as Date | null,
    ...('queue_state' in r ? { queue: toQueue(r.queue_state as QueueJson | null) } : {}),
  };
}

/** The collaborators of these conversations (read after their locks are held), attached to them. */
export async function withParticipants(client: Querier, convs: Conversation[]): Promise<Conversation[]> {
  if (convs.length === 0) return convs;
  const { rows } = await client.query<{ conversation_id: string; agent_id: string; role: Participant['role']; invited_by: string }>(
    preparedQuery(
      'SELECT conversation_id, agent_id, role, invited_by FROM router.conversation_participants WHERE conversation_id = ANY($1::text[]) ORDER BY joined_at, agent_id',
      [convs.map((c) => c.id)],
    ),
  );
  for (const c of convs) c.participants = [];
  const byId = new Map(convs.map((c) => [c.id, c]));
  for (const r of rows) byId.get(r.conversation_id)?.participants!.push({ agentId: r.agent_id, role: r.role, invitedBy: r.invited_by });
  return convs;
}

/** One conversation, locked (FOR UPDATE) unless told otherwise; with its collaborators when asked (one more statement). */
export async function loadConversation(client: Querier, id: string, opts: { lock?: boolean; participants?: boolean } = {}): Promise<Conversation | undefined> {
  const { rows } = await client.query(preparedQuery(`SELECT ${CONVERSATION_COLUMNS} FROM router.conversations WHERE id = $1::text ${opts.lock === false ? '' : 'FOR UPDATE'}`, [id]));
  if (!rows[0]) return undefined;
  const conv = toConversation(rows[0]);
  if (opts.participants) await withParticipants(client, [conv]);
  return conv;
}

/** Each thread's live conversation if there is one, else its latest; locked, in thread-key order. */
export async function loadThreads(client: Querier, threadKeys: string[]): Promise<Map<string, Conversation>> {
  const { rows } = await client.query(
    preparedQuery(
      `SELECT c.* FROM unnest($1::text[]) AS k(thread_key)
         CROSS JOIN LATERAL (SELECT ${CONVERSATION_COLUMNS} FROM router.conversations x WHERE x.thread_key = k.thread_key
                              ORDER BY (x.status IN ('resolved', 'closed')), x.opened_at DESC LIMIT 1 FOR UPDATE) c`,
      [[...threadKeys].sort()],
    ),
  );
  return new Map(rows.map((r) => [r.thread_key as string, toConversation(r)]));
}

/** The conversations offered or assigned to an agent, locked in id order, with their collaborators. */
export async function loadAgentWork(client: Querier, agentId: string): Promise<Conversation[]> {
  const { rows } = await client.query(
    preparedQuery(`SELECT ${CONVERSATION_COLUMNS} FROM router.conversations WHERE agent_id = $1::text AND status IN ('offered', 'assigned') ORDER BY id FOR UPDATE`, [agentId]),
  );
  // a locked row is returned at its latest version (re-checked after any lock wait)
  return withParticipants(client, rows.map(toConversation));
}

/** Offers past their deadline at `at`, oldest first, skipping those another replica holds. */
export async function loadExpiredOffers(client: Querier, at: Date, limit = 100): Promise<Conversation[]> {
  const { rows } = await client.query(
    preparedQuery(
      `SELECT ${CONVERSATION_COLUMNS} FROM router.conversations
        WHERE status = 'offered' AND offer_deadline < $1::timestamptz ORDER BY offer_deadline LIMIT $2::int FOR UPDATE SKIP LOCKED`,
      [at, limit],
    ),
  );
  return rows.map(toConversation);
}

/** Queued conversations whose queue SLA passed at `at`, with their entries locked. */
export async function loadBreachedQueue(client: Querier, at: Date, limit = 100): Promise<Conversation[]> {
  const { rows } = await client.query(
    preparedQuery(
      `SELECT ${C_COLUMNS}, ${QUEUE_COLUMNS} FROM router.queue_entries q0 JOIN router.conversations c ON c.id = q0.conversation_id
        WHERE q0.sla_deadline < $1::timestamptz ORDER BY q0.sla_deadline LIMIT $2::int FOR UPDATE OF q0, c SKIP LOCKED`,
      [at, limit],
    ),
  );
  return rows.map(toConversation);
}

/** Resolved conversations whose reopen window is over at `at`. */
export async function loadResolvedPastWindow(client: Querier, at: Date, windowMs: number, limit = 100): Promise<Conversation[]> {
  const { rows } = await client.query(
    preparedQuery(
      `SELECT ${CONVERSATION_COLUMNS} FROM router.conversations
        WHERE status = 'resolved' AND resolved_at < $1::timestamptz - make_interval(secs => $2::double precision / 1000)
        ORDER BY resolved_at LIMIT $3::int FOR UPDATE SKIP LOCKED`,
      [at, windowMs, limit],
    ),
  );
  return rows.map(toConversation);
}

/** What an agent prefilter row says about who is free: the SQL side of domain/match.ts isEligible. */
export interface EligibilityFilter {
  id: string;
  tiers: number[];
  skills: string[];
  languages: string[];
  /** channels with room */
  channels: string[];
}

/** Priority ageing in queue order (domain/preference.ts agedPriority); absent or 0 points a minute: off. */
export interface QueueAgeing {
  pointsPerMinute: number;
  maxPriority: number;
}

/**
 * A queued priority as the queue ranks it with ageing on, in SQL: `priority` plus `perMinute` points
 * a minute waited since `since` up to `at`, capped at `max`, never lowered (domain/preference.ts
 * agedPriority). The arguments name columns and the statement's parameters ('$4').
 */
export function agedPrioritySql(priority: string, since: string, p: { at: string; perMinute: string; max: string }): string {
  return `GREATEST(${priority}, LEAST(${p.max}::int, ${priority} + floor(extract(epoch FROM ${p.at}::timestamptz - ${since}) / 60 * ${p.perMinute}::double precision)::int))`;
}

/**
 * The match pass's read: in queue order, the first `limit` queued conversations that one of these
 * agents could take — the SQL prefilter of domain/match.ts isEligible (tier, skills, language, room
 * on the channel, not declined), checked against it by test/eligibility-sql.int.test.ts — locked with
 * their entries (SKIP LOCKED: entries another replica or worker is matching are passed over).
 * Widening (router.queue_widening, store/widening.ts): the step in force at `at` may drop the skills
 * or add the next tiers; its minimum level is left to the matcher (a superset here). With ageing,
 * queue order is by aged priority at `at`.
 */
export async function loadMatchable(...args: Parameters<typeof loadMatchableWithRules>): Promise<Conversation[]> {
  return (await loadMatchableWithRules(...args)).conversations;
}

/** loadMatchable, with the stored rule of each conversation (its offers' decision records name it). */
export async function loadMatchableWithRules(
  client: Querier,
  agents: EligibilityFilter[],
  limit: number,
  lock = true,
  opts: { at?: Date; ageing?: QueueAgeing } = {},
): Promise<{ conversations: Conversation[]; rules: StoredRules }> {
  const aged = opts.ageing && opts.ageing.pointsPerMinute > 0;
  const order = aged ? `${agedPrioritySql('q0.priority', 'q0.waiting_since', { at: '$4', perMinute: '$5', max: '$6' })} DESC,` : 'q0.priority DESC,';
  const { rows } = await client.query(
    preparedQuery(
      `SELECT ${C_COLUMNS}, ${QUEUE_COLUMNS}, c.rule_id, c.rule_version
         FROM router.queue_entries q0 JOIN router.conversations c ON c.id = q0.conversation_id
         LEFT JOIN LATERAL (
           SELECT COALESCE((s.e->>'dropSkills')::boolean, false) AS drop_skills,
                  (SELECT array_agg(DISTINCT t + k) FROM unnest(q0.tiers) t, generate_series(0, COALESCE((s.e->>'extraTiers')::int, 0)) k WHERE t + k <= 5) AS tiers
             FROM router.queue_widening w
             CROSS JOIN LATERAL (SELECT e FROM jsonb_array_elements(w.steps) e
                                  WHERE (e->>'afterMs')::double precision <= extract(epoch FROM $4::timestamptz - q0.waiting_since) * 1000
                                  ORDER BY (e->>'afterMs')::double precision DESC LIMIT 1) s
            WHERE w.conversation_id = q0.conversation_id) ws ON true
        WHERE COALESCE(ws.tiers, q0.tiers) && $1::int[] AND c.status = 'queued'
          AND EXISTS (SELECT 1 FROM jsonb_to_recordset($3::jsonb) AS a(id text, tiers int[], skills text[], languages text[], channels text[])
                       WHERE a.tiers && COALESCE(ws.tiers, q0.tiers) AND (c.required_skills <@ a.skills OR ws.drop_skills)
                         AND (c.language IS NULL OR c.language = 'other' OR c.language = ANY(a.languages))
                         AND c.channel = ANY(a.channels) AND a.id <> ALL(c.declined_agents))
        ORDER BY ${order} q0.waiting_since, q0.conversation_id
        LIMIT $2::int
        ${lock ? 'FOR UPDATE OF q0, c SKIP LOCKED' : ''}`,
      [
        [...new Set(agents.flatMap((a) => a.tiers))],
        limit,
        JSON.stringify(agents),
        opts.at ?? new Date(),
        ...(aged ? [opts.ageing!.pointsPerMinute, opts.ageing!.maxPriority] : []),
      ],
    ),
  );
  return { conversations: rows.map(toConversation), rules: new Map(rows.map((r) => [r.id as string, { ruleId: r.rule_id as string | null, ruleVersion: r.rule_version as number | null }])) };
}

/** The customers' latest conversations (up to `limit` + 1 each, newest first), in one read. */
export async function recentByCustomer(client: Querier, customerKeys: string[], limit: number): Promise<Map<string, RecentConversation[]>> {
  const out = new Map<string, RecentConversation[]>();
  if (customerKeys.length === 0) return out;
  const { rows } = await client.query<RecentConversation & { key: string }>(
    preparedQuery(
      `SELECT k.key, r.id, r.tier, r.category, r.status, r.opened_at FROM unnest($1::text[]) AS k(key)
         CROSS JOIN LATERAL (SELECT id, tier, category, status, opened_at FROM router.conversations
                              WHERE customer_key = k.key ORDER BY opened_at DESC LIMIT $2::int) r`,
      [customerKeys, limit + 1],
    ),
  );
  for (const r of rows) out.set(r.key, [...(out.get(r.key) ?? []), r]);
  return out;
}

/** Records these inbound message ids as processed; returns the ones not seen before (a redelivery is a no-op). */
export async function claimEventIds(client: Querier, ids: string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ event_id: string }>(
    preparedQuery('INSERT INTO router.processed_events (event_id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id', [ids]),
  );
  return new Set(rows.map((r) => r.event_id));
}

/** What classification needs about a customer, and their latest conversations (the offer's context). */
export interface CustomerInputs {
  attributes: Record<string, unknown> | null;
  display_name: string | null;
  /** escalations of their conversations opened in the 30 days before `at` */
  n: number;
  /** their latest conversations as recentByCustomer returns them (up to `recentLimit` + 1, newest first) */
  recent: RecentConversation[];
}

/**
 * What classification needs about customers — their profile (from omni.customers.v1) and recent
 * escalations (30 days before `at`) — their latest conversations (shown with an offer: the
 * transaction that opens and offers a conversation then reads them no more at flush), and the active
 * rule version, in one read (ruleVersion undefined: no customers asked).
 */
export async function classificationInputs(
  client: Querier,
  customerKeys: string[],
  at: Date,
  recentLimit: number,
): Promise<{ inputs: Map<string, CustomerInputs>; ruleVersion?: number }> {
  const inputs = new Map<string, CustomerInputs>();
  if (customerKeys.length === 0) return { inputs };
  const { rows } = await client.query<Omit<CustomerInputs, 'recent'> & { key: string; rule_version: number | null; recent: (Omit<RecentConversation, 'opened_at'> & { opened_at: string })[] }>(
    preparedQuery(
      `SELECT k.key, p.attributes, p.display_name,
              (SELECT COALESCE(sum(escalations), 0)::int FROM router.conversations WHERE customer_key = k.key AND opened_at > $2::timestamptz - interval '30 days') AS n,
              (SELECT COALESCE(jsonb_agg(to_jsonb(r) ORDER BY r.opened_at DESC), '[]'::jsonb)
                 FROM (SELECT id, tier, category, status, opened_at FROM router.conversations WHERE customer_key = k.key ORDER BY opened_at DESC LIMIT $3::int) r) AS recent,
              (SELECT version FROM router.rule_sets WHERE active) AS rule_version
         FROM unnest($1::text[]) AS k(key) LEFT JOIN router.customer_profiles p ON p.identity = k.key`,
      [customerKeys, at, recentLimit + 1],
    ),
  );
  for (const r of rows) inputs.set(r.key, { attributes: r.attributes, display_name: r.display_name, n: r.n, recent: r.recent.map((c) => ({ ...c, opened_at: new Date(c.opened_at) })) });
  return { inputs, ruleVersion: rows[0]?.rule_version ?? 0 };
}

/** The agent a conversation is with, or was last with (delivery outcomes go to them). */
export async function conversationAgent(client: Querier, id: string): Promise<string | undefined> {
  const r = await client.query<{ agent_id: string | null; last_agent_id: string | null }>('SELECT agent_id, last_agent_id FROM router.conversations WHERE id = $1::text', [id]);
  return r.rows[0]?.agent_id ?? r.rows[0]?.last_agent_id ?? undefined;
}

/** Claims one event id (a Kafka event other than an inbound message); false when already processed. */
export async function claimEventId(client: Querier, id: string): Promise<boolean> {
  const fresh = await client.query('INSERT INTO router.processed_events (event_id) VALUES ($1::text) ON CONFLICT DO NOTHING', [id]);
  return fresh.rowCount !== 0;
}

/** The conversations open with an agent (shown in the console's welcome). */
export async function openWorkOf(client: Querier, agentId: string): Promise<{ id: string; status: string; offer_deadline: Date | null }[]> {
  const { rows } = await client.query<{ id: string; status: string; offer_deadline: Date | null }>(
    `SELECT id, status, offer_deadline FROM router.conversations WHERE agent_id = $1::text AND status IN ('offered', 'assigned') ORDER BY id`,
    [agentId],
  );
  return rows;
}
