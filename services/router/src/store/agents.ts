import type { Pool, PoolClient } from 'pg';
import { batchWrites } from '@omni/db';
import type { AgentState } from '../domain/lifecycle';
import type { AgentView } from '../domain/decision-record';
import type { AgentSnapshot } from '../domain/match';
import { lockAgentSeq, SESSIONS_CHANNEL } from './agent-events';
import { preparedQuery } from './prepared';

type Querier = Pick<PoolClient, 'query'>;

/** An agent's open conversations per channel, counted from the conversations (the one source of load). */
// Wrap-up (after-contact work) holds a slot on its channel until it ends (domain/wrap-up.ts).
export const LOAD_SQL = `COALESCE((SELECT jsonb_object_agg(channel, n) FROM (SELECT channel, sum(n)::int AS n FROM (
    SELECT c.channel, count(*)::int AS n FROM router.conversations c
     WHERE c.agent_id = a.id AND c.status IN ('offered', 'assigned') GROUP BY c.channel
    UNION ALL
    SELECT w.channel, count(*)::int AS n FROM router.agent_wrap_ups w WHERE w.agent_id = a.id AND w.until > now() GROUP BY w.channel) y
    GROUP BY channel) x), '{}'::jsonb)`;

interface AgentRow {
  id: string;
  tiers: number[];
  skills: string[];
  languages: string[];
  capacity: Record<string, number>;
  load: Record<string, number>;
  idle_since: Date;
  proficiency?: AgentSnapshot['proficiency'];
}

const toSnapshot = (r: AgentRow): AgentSnapshot => ({
  id: r.id,
  tiers: r.tiers,
  skills: r.skills,
  languages: r.languages,
  capacity: r.capacity,
  load: r.load,
  idleSince: r.idle_since,
  ...(r.proficiency && Object.keys(r.proficiency).length ? { proficiency: r.proficiency } : {}),
});

/** An agent as the decision sees it (domain/decision-record.ts AgentView), as JSON: every agent, not only the available ones. */
const AGENT_VIEW_JSON = `jsonb_build_object('id', a.id, 'tiers', a.tiers, 'skills', a.skills, 'languages', a.languages, 'capacity', a.capacity, 'proficiency', a.proficiency,
    'idleSince', a.idle_since, 'presence', a.presence, 'awayReason', a.away_reason, 'consoleAttached', a.session_id IS NOT NULL,
    'wrapUpUntil', (SELECT max(w.until) FROM router.agent_wrap_ups w WHERE w.agent_id = a.id AND w.until > now()),
    'load', ${LOAD_SQL})`;
/** Every agent's view as one jsonb array (a scalar subquery: other reads take it as a column). */
export const AGENT_VIEWS_SQL = `SELECT jsonb_agg(${AGENT_VIEW_JSON} ORDER BY a.id) FROM router.agents a`;

export type AgentJson = Omit<AgentView, 'idleSince' | 'wrapUpUntil'> & { idleSince: string; wrapUpUntil: string | null };
export const toView = (a: AgentJson): AgentView => ({
  ...a,
  idleSince: new Date(a.idleSince),
  wrapUpUntil: a.wrapUpUntil ? new Date(a.wrapUpUntil) : null,
  // no levels set: the defaults (domain/preference.ts), the same as an absent map
  proficiency: a.proficiency && Object.keys(a.proficiency).length ? a.proficiency : undefined,
});

/**
 * Every agent as the decision record and "why waiting" see them (presence, console attached, load
 * per channel with wrap-up, idle time); the matcher takes the available ones of the same read
 * (domain/decision-record.ts availableOf). One statement.
 */
export async function loadAgentViews(client: Querier): Promise<AgentView[]> {
  const { rows } = await client.query<{ agents: AgentJson[] | null }>(preparedQuery(`SELECT (${AGENT_VIEWS_SQL}) AS agents`));
  return (rows[0]?.agents ?? []).map(toView);
}

/** The rule (id, version) that classified each of these conversations, as stored when it was opened. */
export type StoredRules = Map<string, { ruleId: string | null; ruleVersion: number | null }>;

/**
 * The arrival path's reads in one round trip: of these tiers, those with an entry waiting other
 * than the arrivals themselves (arrivals must not jump a queue); every agent's view (the matcher's
 * pool and the offers' decision records); the stored rule of the arrivals already in the table
 * (reopened ones; those opened now are not written yet).
 */
export async function arrivalSnapshot(client: Querier, tiers: number[], arrivals: string[]): Promise<{ backlog: Set<number>; agents: AgentView[]; rules: StoredRules }> {
  const { rows } = await client.query<{ backlog: number[] | null; agents: AgentJson[] | null; rules: Record<string, { ruleId: string | null; ruleVersion: number | null }> | null }>(
    preparedQuery(
      `SELECT (SELECT array_agg(t) FROM unnest($1::int[]) AS t
                WHERE EXISTS (SELECT 1 FROM router.queue_entries q WHERE q.tiers && ARRAY[t] AND q.conversation_id <> ALL($2::text[]))) AS backlog,
              (${AGENT_VIEWS_SQL}) AS agents,
              (SELECT jsonb_object_agg(c.id, jsonb_build_object('ruleId', c.rule_id, 'ruleVersion', c.rule_version)) FROM router.conversations c WHERE c.id = ANY($2::text[])) AS rules`,
      [tiers, arrivals],
    ),
  );
  return { backlog: new Set(rows[0]?.backlog ?? []), agents: (rows[0]?.agents ?? []).map(toView), rules: new Map(Object.entries(rows[0]?.rules ?? {})) };
}

/**
 * Locks these agents for this transaction in id order, skipping any another transaction holds
 * (another replica or worker matching right now), and re-reads their load under the lock — in a
 * separate statement, so it sees every commit made before the lock was granted. Every path that
 * adds load to an agent holds this same row lock. `FOR NO KEY UPDATE`: it does not conflict with
 * the key-share lock the agent_events foreign key takes.
 */
export async function lockAgents(client: PoolClient, ids: string[]): Promise<AgentSnapshot[]> {
  // both statements in one round trip (libs/db batchWrites, pipelined client): the server runs the
  // re-read after the lock statement has finished, so its snapshot still follows the lock; it reads
  // every asked agent and only the locked ones' loads are kept
  batchWrites(client);
  const [{ rows }, loads] = await Promise.all([
    client.query<AgentRow>(
      preparedQuery(
        `SELECT a.id, a.tiers, a.skills, a.languages, a.capacity, a.idle_since, a.proficiency FROM router.agents a
          WHERE a.id = ANY($1::text[]) AND a.presence = 'online' AND a.session_id IS NOT NULL ORDER BY a.id FOR NO KEY UPDATE SKIP LOCKED`,
        [ids],
      ),
    ),
    // answers come in order: if the lock statement failed, its error is the one Promise.all rejects with
    client.query<{ id: string; load: Record<string, number> }>(preparedQuery(`SELECT a.id, ${LOAD_SQL} AS load FROM router.agents a WHERE a.id = ANY($1::text[])`, [ids])),
  ]);
  if (rows.length === 0) return [];
  const byId = new Map(loads.rows.map((r) => [r.id, r.load]));
  return rows.map((r) => toSnapshot({ ...r, load: byId.get(r.id) ?? {} }));
}

/** A transfer's target, locked (waiting for the lock), with its load on the channel; undefined unless online with a console. */
export async function lockTransferTarget(client: Querier, agentId: string, channel: string): Promise<Pick<AgentSnapshot, 'id' | 'capacity' | 'load'> | undefined> {
  const { rows } = await client.query<{ capacity: Record<string, number>; n: number }>(
    preparedQuery(
      `SELECT a.capacity, (SELECT count(*)::int FROM router.conversations c WHERE c.agent_id = a.id AND c.status IN ('offered', 'assigned') AND c.channel = $2::text) AS n
         FROM router.agents a WHERE a.id = $1::text AND a.presence = 'online' AND a.session_id IS NOT NULL FOR NO KEY UPDATE`,
      [agentId, channel],
    ),
  );
  return rows[0] && { id: agentId, capacity: rows[0].capacity, load: { [channel]: rows[0].n } };
}

export async function agentExists(client: Pick<Pool, 'query'>, agentId: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM router.agents WHERE id = $1::text', [agentId]);
  return (r.rowCount ?? 0) > 0;
}

/** Presence and streak of lapsed offers of these agents, locked (FOR NO KEY UPDATE) in id order. */
export async function lockAgentStates(client: Querier, ids: string[]): Promise<Map<string, AgentState>> {
  const { rows } = await client.query<{ id: string; presence: AgentState['presence']; consecutive_timeouts: number }>(
    preparedQuery('SELECT id, presence, consecutive_timeouts FROM router.agents WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE', [ids]),
  );
  return new Map(rows.map((r) => [r.id, { id: r.id, presence: r.presence, consecutiveTimeouts: r.consecutive_timeouts }]));
}

/** Writes a presence change decided by agentPresence at `at` (idle time restarts when the agent comes online). */
export async function savePresence(client: Querier, a: AgentState, cameOnline: boolean, at: Date, extra: { goneOffline?: boolean } = {}): Promise<void> {
  await client.query(
    preparedQuery(
      // gone offline with a console still recorded as attached (its replica died): the session ends now (replay, docs/replay.md)
      `WITH s AS (UPDATE router.agent_console_sessions SET detached_at = $6::timestamptz WHERE $5::boolean AND agent_id = $1::text AND detached_at IS NULL)
       UPDATE router.agents SET presence = $2::text, consecutive_timeouts = $3::int,
              idle_since = CASE WHEN $4::boolean THEN $6::timestamptz ELSE idle_since END,
              session_id = CASE WHEN $5::boolean THEN NULL ELSE session_id END,
              disconnect_deadline = CASE WHEN $5::boolean THEN NULL ELSE disconnect_deadline END, updated_at = now()
        WHERE id = $1::text`,
      [a.id, a.presence, a.consecutiveTimeouts, cameOnline, extra.goneOffline === true, at],
    ),
  );
}

/**
 * Before a console attaches: the agent's row locked and its numbering lock taken, so no event of
 * this agent can be numbered between the resume point read here and the commit. Undefined: no such agent.
 */
export async function lockForSession(client: Querier, agentId: string): Promise<{ before: AgentState; fromSeq: number } | undefined> {
  const { rows } = await client.query<{ presence: AgentState['presence']; consecutive_timeouts: number }>(
    'SELECT presence, consecutive_timeouts FROM router.agents WHERE id = $1::text FOR NO KEY UPDATE',
    [agentId],
  );
  if (!rows[0]) return undefined;
  const fromSeq = await lockAgentSeq(client, agentId);
  return { before: { id: agentId, presence: rows[0].presence, consecutiveTimeouts: rows[0].consecutive_timeouts }, fromSeq };
}

/** Records the session attached at `at` with the agent's decided state, and tells any replica holding an older console to close it. */
export async function saveSession(client: Querier, a: AgentState, sessionId: string, restartIdle: boolean, at: Date): Promise<void> {
  await client.query(
    `UPDATE router.agents SET session_id = $2::text, seen_at = $6::timestamptz, disconnect_deadline = NULL, presence = $3::text, consecutive_timeouts = $4::int,
            idle_since = CASE WHEN $5::boolean THEN $6::timestamptz ELSE idle_since END, updated_at = now()
      WHERE id = $1::text`,
    [a.id, sessionId, a.presence, a.consecutiveTimeouts, restartIdle, at],
  );
  // replay's record of when consoles attached (an older console of the agent is replaced: it ends now)
  await client.query(
    `WITH old AS (UPDATE router.agent_console_sessions SET detached_at = $3::timestamptz WHERE agent_id = $1::text AND detached_at IS NULL AND session_id <> $2::text)
     INSERT INTO router.agent_console_sessions (session_id, agent_id, attached_at) VALUES ($2::text, $1::text, $3::timestamptz) ON CONFLICT (session_id) DO NOTHING`,
    [a.id, sessionId, at],
  );
  await client.query('SELECT pg_notify($1::text, $2::text)', [SESSIONS_CHANNEL, `${a.id} ${sessionId}`]);
}

/** The console of this session closed at `at`: the disconnect grace starts (only if it is still the attached one). */
export async function detachSession(pool: Pick<Pool, 'query'>, agentId: string, sessionId: string, graceMs: number, at: Date): Promise<void> {
  // one statement: the agent's row and replay's record of the session's end (docs/replay.md)
  await pool.query(
    `WITH s AS (UPDATE router.agent_console_sessions SET detached_at = $4::timestamptz WHERE session_id = $2::text AND detached_at IS NULL)
     UPDATE router.agents SET session_id = NULL, disconnect_deadline = $4::timestamptz + make_interval(secs => $3::double precision / 1000)
      WHERE id = $1::text AND session_id = $2::text`,
    [agentId, sessionId, graceMs, at],
  );
}

/**
 * Liveness of the consoles a replica holds at `at` (a replica that dies stops this and its agents
 * time out), in router.console_liveness, not on the agents' rows (migration 0009); rows of consoles
 * gone longer than twice the grace are dropped by the same statement.
 */
export async function refreshSessions(pool: Pick<Pool, 'query'>, sessionIds: string[], at: Date, graceMs: number): Promise<void> {
  if (!sessionIds.length) return;
  await pool.query(
    preparedQuery(
      `WITH gone AS (DELETE FROM router.console_liveness
                      WHERE seen_at < $2::timestamptz - make_interval(secs => $3::double precision / 500) AND session_id <> ALL ($1::text[]))
       INSERT INTO router.console_liveness (session_id, seen_at) SELECT s, $2::timestamptz FROM unnest($1::text[]) AS s
       ON CONFLICT (session_id) DO UPDATE SET seen_at = EXCLUDED.seen_at`,
      [sessionIds, at, graceMs],
    ),
  );
}

/** When an attached console was last known alive: at attach (agents.seen_at) or its latest heartbeat. */
export const CONSOLE_SEEN_SQL = `GREATEST(seen_at, (SELECT l.seen_at FROM router.console_liveness l WHERE l.session_id = agents.session_id))`;

/**
 * Agents whose console has been gone longer than the grace period at `at` (closed socket, or a
 * replica that died holding it and stopped refreshing seen_at), locked, skipping those another replica holds.
 */
export async function lockDisconnected(client: Querier, at: Date, graceMs: number, limit = 20): Promise<AgentState[]> {
  const { rows } = await client.query<{ id: string; presence: AgentState['presence']; consecutive_timeouts: number }>(
    preparedQuery(
      `SELECT id, presence, consecutive_timeouts FROM router.agents
        WHERE presence <> 'offline'
          AND ((session_id IS NULL AND disconnect_deadline < $1::timestamptz)
            OR (session_id IS NOT NULL AND ${CONSOLE_SEEN_SQL} < $1::timestamptz - make_interval(secs => $2::double precision / 1000)))
        ORDER BY id LIMIT $3::int FOR NO KEY UPDATE SKIP LOCKED`,
      [at, graceMs, limit],
    ),
  );
  return rows.map((r) => ({ id: r.id, presence: r.presence, consecutiveTimeouts: r.consecutive_timeouts }));
}
