import type { Client, Pool, PoolClient } from 'pg';
import { preparedQuery } from './prepared';

type Querier = Pick<PoolClient, 'query'>;

/** A console frame as stored in router.agent_events (the frame carries its seq too). */
export interface NumberedAgentEvent {
  agentId: string;
  seq: number;
  frame: Record<string, unknown>;
}

/** Prefix of the advisory lock that serialises the numbering of one agent's console events. */
export const AGENT_SEQ_LOCK = 'router.agent_seq:';

export const EVENTS_CHANNEL = 'router_agent_events';
export const SESSIONS_CHANNEL = 'router_agent_sessions';

/** The last sequence number given to each of these agents' console events (0 = none yet). */
export async function lastAgentSeqs(client: Pick<Pool, 'query'>, agentIds: string[]): Promise<Map<string, number>> {
  const { rows } = await client.query<{ agent_id: string; seq: string }>(
    'SELECT i.id AS agent_id, (SELECT COALESCE(max(e.seq), 0) FROM router.agent_events e WHERE e.agent_id = i.id) AS seq FROM unnest($1::text[]) AS i(id)',
    [agentIds],
  );
  return new Map(rows.map((r) => [r.agent_id, Number(r.seq)]));
}

/**
 * Takes the numbering locks of these agents (transaction-level advisory locks, in id order so two
 * transactions numbering the same agents cannot deadlock). Not the agent's row: an offer holds that
 * row from its capacity check to commit, and numbering under it made every accept wait for whole
 * offer transactions.
 */
export async function lockAgentNumbering(client: Querier, agentIds: string[]): Promise<void> {
  await client.query(
    preparedQuery('SELECT pg_advisory_xact_lock(hashtext($2::text || id)) FROM unnest($1::text[]) WITH ORDINALITY AS t(id, o) ORDER BY o', [[...agentIds].sort(), AGENT_SEQ_LOCK]),
  );
}

/**
 * Numbers and writes console frames, after lockAgentNumbering: a new statement, so it sees every
 * event committed before the locks were granted, and each agent's log is in commit order.
 */
export async function insertAgentEvents(client: Querier, frames: Map<string, Record<string, unknown>[]>): Promise<NumberedAgentEvent[]> {
  const { rows } = await client.query<{ agent_id: string; seq: string; frame: Record<string, unknown> }>(
    preparedQuery(
      `INSERT INTO router.agent_events (agent_id, seq, frame)
       SELECT i.agent_id, b.base + t.ord, t.f || jsonb_build_object('seq', b.base + t.ord)
         FROM jsonb_to_recordset($1::jsonb) AS i(agent_id text, frames jsonb)
         JOIN router.agents a ON a.id = i.agent_id
         CROSS JOIN LATERAL (SELECT COALESCE(max(e.seq), 0) AS base FROM router.agent_events e WHERE e.agent_id = i.agent_id) b
         CROSS JOIN LATERAL jsonb_array_elements(i.frames) WITH ORDINALITY AS t(f, ord)
       RETURNING agent_id, seq, frame`,
      [JSON.stringify([...frames].map(([agent_id, list]) => ({ agent_id, frames: list })))],
    ),
  );
  return rows.map((r) => ({ agentId: r.agent_id, seq: Number(r.seq), frame: r.frame }));
}

/** Up to `limit` of an agent's console events after `after`, in order (a socket's stream). */
export async function agentEventsAfter(pool: Pick<Pool, 'query'>, agentId: string, after: number, limit: number): Promise<{ seq: number; frame: Record<string, unknown> }[]> {
  const { rows } = await pool.query<{ seq: string; frame: Record<string, unknown> }>(
    'SELECT seq, frame FROM router.agent_events WHERE agent_id = $1::text AND seq > $2::bigint ORDER BY seq LIMIT $3::int',
    [agentId, after, limit],
  );
  return rows.map((r) => ({ seq: Number(r.seq), frame: r.frame }));
}

/** Announces on a channel (outside any data transaction: a NOTIFY inside one serialises commits). */
export async function notify(pool: Pick<Pool, 'query'>, channel: string, payload: string): Promise<void> {
  await pool.query('SELECT pg_notify($1::text, $2::text)', [channel, payload]);
}

/** Subscribes a dedicated connection to the console channels. */
export async function listenAgentChannels(client: Client): Promise<void> {
  await client.query(`LISTEN ${EVENTS_CHANNEL}`);
  await client.query(`LISTEN ${SESSIONS_CHANNEL}`);
}
