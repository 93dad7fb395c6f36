import type { PoolClient } from 'pg';
import type { PresenceReasons, WrapUp } from '../domain/wrap-up';
import { preparedQuery } from './prepared';

type Querier = Pick<PoolClient, 'query'>;

/**
 * Admin-configured away reasons (router.presence_reasons), an agent's away reason
 * (router.agents.away_reason) and the wrap-up rows the agent or the sweep ends
 * (docs/queue-intelligence.md).
 */

/** The configured away reasons, in the admins' order. */
export async function listPresenceReasons(client: Querier): Promise<PresenceReasons> {
  const { rows } = await client.query<PresenceReasons[number]>('SELECT id, label, productive FROM router.presence_reasons ORDER BY position, id');
  return rows;
}

/** Replaces the list (in the caller's transaction, under one lock so two edits do not interleave). */
export async function replacePresenceReasons(client: Querier, reasons: PresenceReasons): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:presence_reasons']);
  await client.query('DELETE FROM router.presence_reasons');
  if (!reasons.length) return;
  await client.query(
    `INSERT INTO router.presence_reasons (id, label, productive, position)
     SELECT id, label, productive, (n - 1)::int FROM unnest($1::text[], $2::text[], $3::boolean[]) WITH ORDINALITY AS r(id, label, productive, n)`,
    [reasons.map((r) => r.id), reasons.map((r) => r.label), reasons.map((r) => r.productive)],
  );
}

export interface PresenceContext {
  awayReason: string | null;
  /** total slots over the channels */
  capacity: number;
  tiers: number[];
  reasons: PresenceReasons;
}

/** What a presence change of this agent needs, in one read: its away reason, total capacity, tiers, and the configured reasons. */
export async function presenceContext(client: Querier, agentId: string): Promise<PresenceContext | undefined> {
  const { rows } = await client.query<{ away_reason: string | null; capacity: number; tiers: number[]; reasons: PresenceReasons | null }>(
    preparedQuery(
      `SELECT a.away_reason, (SELECT COALESCE(sum(v::int), 0)::int FROM jsonb_each_text(a.capacity) AS x(k, v)) AS capacity, a.tiers,
              (SELECT jsonb_agg(jsonb_build_object('id', r.id, 'label', r.label, 'productive', r.productive) ORDER BY r.position, r.id) FROM router.presence_reasons r) AS reasons
         FROM router.agents a WHERE a.id = $1::text`,
      [agentId],
    ),
  );
  const r = rows[0];
  return r && { awayReason: r.away_reason, capacity: Math.min(1000, r.capacity), tiers: r.tiers, reasons: r.reasons ?? [] };
}

export async function saveAwayReason(client: Querier, agentId: string, reason: string | null): Promise<void> {
  await client.query(preparedQuery('UPDATE router.agents SET away_reason = $2::text WHERE id = $1::text AND away_reason IS DISTINCT FROM $2::text', [agentId, reason]));
}

/** Each agent's presence and away reason (for the supervision views). */
export async function awayReasons(client: Querier): Promise<Map<string, { presence: string; awayReason: string | null }>> {
  const { rows } = await client.query<{ id: string; presence: string; away_reason: string | null }>('SELECT id, presence, away_reason FROM router.agents ORDER BY id');
  return new Map(rows.map((r) => [r.id, { presence: r.presence, awayReason: r.away_reason }]));
}

type WrapUpRow = { agent_id: string; conversation_id: string; channel: string; since: Date; until: Date };
const toWrapUp = (r: WrapUpRow): WrapUp & { agentId: string } => ({ agentId: r.agent_id, conversationId: r.conversation_id, channel: r.channel, since: r.since, until: r.until });

/** An agent's wrap-up entries, locked (the agent's own end-wrap-up and the sweep do not both end one). */
export async function lockWrapUps(client: Querier, agentId: string): Promise<WrapUp[]> {
  const { rows } = await client.query<WrapUpRow>('SELECT agent_id, conversation_id, channel, since, until FROM router.agent_wrap_ups WHERE agent_id = $1::text ORDER BY conversation_id FOR UPDATE', [agentId]);
  return rows.map(toWrapUp);
}

/** Removes these entries of an agent (ended). */
export async function deleteWrapUps(client: Querier, agentId: string, conversationIds: string[]): Promise<void> {
  if (conversationIds.length)
    await client.query('DELETE FROM router.agent_wrap_ups WHERE agent_id = $1::text AND conversation_id = ANY($2::text[])', [agentId, conversationIds]);
}

/** Wrap-ups over at `at` (their maximum reached), removed and returned; those another replica holds are skipped. */
export async function takeExpiredWrapUps(client: Querier, at: Date, limit = 100): Promise<(WrapUp & { agentId: string })[]> {
  const { rows } = await client.query<WrapUpRow>(
    preparedQuery(
      `DELETE FROM router.agent_wrap_ups WHERE (agent_id, conversation_id) IN (
         SELECT agent_id, conversation_id FROM router.agent_wrap_ups WHERE until <= $1::timestamptz ORDER BY until LIMIT $2::int FOR UPDATE SKIP LOCKED)
       RETURNING agent_id, conversation_id, channel, since, until`,
      [at, limit],
    ),
  );
  return rows.map(toWrapUp);
}

/** Whether a wrap-up is over and not yet ended by the sweep (the sweep's due check). */
export async function wrapUpsDue(client: Querier, at: Date): Promise<boolean> {
  const { rows } = await client.query<{ due: boolean }>(preparedQuery('SELECT EXISTS (SELECT 1 FROM router.agent_wrap_ups WHERE until <= $1::timestamptz) AS due', [at]));
  return rows[0]?.due === true;
}
