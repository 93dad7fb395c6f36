import type { Client, Pool, PoolClient } from 'pg';
import { preparedQuery } from './prepared';

type Querier = Pick<PoolClient, 'query'>;

/** A console frame as stored in router.agent_events (the frame carries its seq too). */
export interface NumberedAgentEvent {
  agentId: string;
  seq: number;
  frame: Record<string, unknown>;
}

export const EVENTS_CHANNEL = 'router_agent_events';
export const SESSIONS_CHANNEL = 'router_agent_sessions';

/** The last sequence number given to each of these agents' console events (0 = none yet), as committed. */
export async function lastAgentSeqs(client: Pick<Pool, 'query'>, agentIds: string[]): Promise<Map<string, number>> {
  const { rows } = await client.query<{ agent_id: string; seq: string }>(
    preparedQuery('SELECT agent_id, seq FROM router.agent_event_seqs WHERE agent_id = ANY($1::text[])', [agentIds]),
  );
  const seqs = new Map(rows.map((r) => [r.agent_id, Number(r.seq)]));
  return new Map(agentIds.map((id) => [id, seqs.get(id) ?? 0]));
}

/**
 * Takes an agent's numbering lock (its router.agent_event_seqs row, until commit) and returns the
 * last number given: no event of the agent can be numbered between this read and the commit.
 */
export async function lockAgentSeq(client: Querier, agentId: string): Promise<number> {
  const { rows } = await client.query<{ seq: string }>(
    preparedQuery(
      `INSERT INTO router.agent_event_seqs AS s (agent_id, seq) VALUES ($1::text, 0)
       ON CONFLICT (agent_id) DO UPDATE SET seq = s.seq RETURNING seq`,
      [agentId],
    ),
  );
  return Number(rows[0]?.seq ?? 0);
}

/**
 * Numbers and writes console frames in one statement: each agent's counter row
 * (router.agent_event_seqs, migration 0009) is advanced by its frame count — taking the row's lock,
 * in agent id order so two transactions numbering the same agents cannot deadlock — and the frames
 * are inserted with the numbers it returns. The lock is held to commit, so a later transaction
 * numbering the same agent waits and continues after this one's numbers: each agent's log is in
 * commit order. Not the agent's row: an offer holds that from its capacity check to commit, and
 * numbering under it made every accept wait for whole offer transactions. Frames of an unknown agent
 * are dropped.
 */
export async function insertAgentEvents(client: Querier, frames: Map<string, Record<string, unknown>[]>): Promise<NumberedAgentEvent[]> {
  const { rows } = await client.query<{ agent_id: string; seq: string; frame: Record<string, unknown> }>(
    preparedQuery(
      `WITH i AS (SELECT i.agent_id, i.frames, jsonb_array_length(i.frames) AS n
                    FROM jsonb_to_recordset($1::jsonb) AS i(agent_id text, frames jsonb)
                   WHERE EXISTS (SELECT 1 FROM router.agents a WHERE a.id = i.agent_id)),
            s AS (INSERT INTO router.agent_event_seqs AS s (agent_id, seq) SELECT agent_id, n FROM i ORDER BY agent_id
                  ON CONFLICT (agent_id) DO UPDATE SET seq = s.seq + EXCLUDED.seq
                  RETURNING s.agent_id, s.seq)
       INSERT INTO router.agent_events (agent_id, seq, frame)
       SELECT i.agent_id, s.seq - i.n + t.ord, t.f || jsonb_build_object('seq', s.seq - i.n + t.ord)
         FROM i JOIN s ON s.agent_id = i.agent_id
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
