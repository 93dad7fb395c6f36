import type { Proficiency } from '../domain/preference';
import type { PoolClient } from 'pg';
import { derivedId, type AgentEvent, type TopicNames } from '@omni/contracts';
import { enqueueOutbox } from '@omni/kafka';

/**
 * What replay needs beyond the topics (docs/replay.md "What is recorded"), written in the
 * transaction of the change it records: agent profile versions (with an agent.profile-changed
 * event on omni.agents.v1 through the outbox) and the lifecycle settings in force. Console sessions
 * are recorded by store/agents.ts where sessions attach and detach.
 */

type Querier = Pick<PoolClient, 'query'>;

export interface ProfileFields {
  name: string;
  tiers: number[];
  skills: string[];
  languages: string[];
  capacity: Record<string, number | undefined>;
  proficiency?: Record<string, unknown>;
}

/**
 * Records the agent's profile as a new version when it differs from the last one, and publishes
 * agent.profile-changed through the outbox, both in the caller's transaction (which holds the
 * agent's row lock after its upsert, so versions of one agent are numbered in order). Returns the
 * version written, undefined when nothing changed.
 */
export async function recordProfileVersion(
  client: PoolClient,
  topics: Pick<TopicNames, 'agents'>,
  agentId: string,
  p: ProfileFields,
  actor: { sub: string },
): Promise<{ version: number; validFrom: Date } | undefined> {
  const capacity = Object.fromEntries(Object.entries(p.capacity).filter((e): e is [string, number] => e[1] !== undefined));
  const proficiency = p.proficiency ?? {};
  const { rows } = await client.query<{ version: number; valid_from: Date }>(
    `INSERT INTO router.agent_profile_versions (agent_id, version, valid_from, name, tiers, skills, languages, capacity, proficiency, changed_by)
     SELECT $1::text, COALESCE(max(v.version), 0) + 1, now(), $2::text, $3::int[], $4::text[], $5::text[], $6::jsonb, $7::jsonb, $8::text
       FROM router.agent_profile_versions v WHERE v.agent_id = $1::text
     HAVING NOT EXISTS (SELECT 1 FROM router.agent_profile_versions l WHERE l.agent_id = $1::text
                          AND l.version = (SELECT max(version) FROM router.agent_profile_versions WHERE agent_id = $1::text)
                          AND l.name = $2::text AND l.tiers = $3::int[] AND l.skills = $4::text[] AND l.languages = $5::text[]
                          AND l.capacity = $6::jsonb AND l.proficiency = $7::jsonb)
     RETURNING version, valid_from`,
    [agentId, p.name, p.tiers, p.skills, p.languages, JSON.stringify(capacity), JSON.stringify(proficiency), actor.sub],
  );
  const row = rows[0];
  if (!row) return undefined;
  const event: AgentEvent = {
    schema: 'omni.agents.v1',
    eventId: derivedId('agev', agentId, 'profile', String(row.version)),
    type: 'agent.profile-changed',
    agentId,
    occurredAt: row.valid_from.toISOString(),
    actor: { type: 'admin', id: actor.sub.slice(0, 200) },
    // the contract's capacity is one number: the concurrent conversations over all channels; per channel in data
    capacity: Math.min(1000, Object.values(capacity).reduce((a, b) => a + b, 0)),
    tiers: p.tiers,
    data: { version: row.version, skills: p.skills, languages: p.languages, capacityByChannel: capacity, proficiency },
  };
  await enqueueOutbox(client, 'router', [{ topic: topics.agents, key: agentId, schemaId: 'omni.agents.v1', value: event }]);
  return { version: row.version, validFrom: row.valid_from };
}

/** The lifecycle settings replay needs to reproduce decisions (the router's env today). */
export interface LifecycleSettings {
  offerTimeoutMs: number;
  reopenWindowMs: number;
  slaMsByTier: Record<string, number>;
  overflowMode: 'widen' | 'escalate';
  maxConsecutiveOfferTimeouts: number;
  wrapUpMs: number;
  disconnectGraceMs: number;
  /** priority ageing in the match order (null: off); absent in versions recorded before it was: off */
  priorityAgeing?: { pointsPerMinute: number; maxPriority: number } | null;
}

/**
 * Records the settings a starting router runs with as a new version when they differ from the
 * latest one (replicas with the same settings add nothing). Returns the version in force now and
 * whether this call wrote it.
 */
export async function recordLifecycleSettings(client: PoolClient, s: LifecycleSettings, recordedBy: string): Promise<{ version: number; created: boolean }> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:lifecycle_settings']);
  const latest = await client.query<{ version: number; same: boolean }>(
    'SELECT version, settings = $1::jsonb AS same FROM router.lifecycle_settings_versions ORDER BY version DESC LIMIT 1',
    [JSON.stringify(s)],
  );
  if (latest.rows[0]?.same) return { version: latest.rows[0].version, created: false };
  const { rows } = await client.query<{ version: number }>(
    `INSERT INTO router.lifecycle_settings_versions (version, settings, recorded_by)
     SELECT COALESCE(max(version), 0) + 1, $1::jsonb, $2::text FROM router.lifecycle_settings_versions RETURNING version`,
    [JSON.stringify(s), recordedBy],
  );
  return { version: rows[0]!.version, created: true };
}

/** Reads for replay (one READ ONLY transaction of sources.ts). */
export async function profileVersions(client: Querier, to: Date) {
  const { rows } = await client.query<{ agent_id: string; version: number; valid_from: Date; tiers: number[]; skills: string[]; languages: string[]; capacity: Record<string, number>; proficiency: Proficiency }>(
    'SELECT agent_id, version, valid_from, tiers, skills, languages, capacity, proficiency FROM router.agent_profile_versions WHERE valid_from <= $1::timestamptz ORDER BY agent_id, version',
    [to],
  );
  return rows;
}

/** The tier-0 answer knowledge gave each conversation opened in [from, to] that got a self-service attempt (router.conversation_knowledge). */
export async function selfServiceAnswers(client: Querier, from: Date, to: Date): Promise<Map<string, string[]>> {
  const { rows } = await client.query<{ id: string; articles: string[] }>(
    `SELECT k.conversation_id AS id, k.self_service_articles AS articles FROM router.conversation_knowledge k JOIN router.conversations c ON c.id = k.conversation_id
      WHERE c.opened_at BETWEEN $1::timestamptz AND $2::timestamptz AND k.self_service_state IS NOT NULL`,
    [from, to],
  );
  return new Map(rows.map((r) => [r.id, r.articles]));
}

export async function consoleSessions(client: Querier, to: Date) {
  const { rows } = await client.query<{ agent_id: string; session_id: string; attached_at: Date; detached_at: Date | null }>(
    'SELECT agent_id, session_id, attached_at, detached_at FROM router.agent_console_sessions WHERE attached_at <= $1::timestamptz ORDER BY agent_id, attached_at, session_id',
    [to],
  );
  return rows;
}

export async function settingsVersions(client: Querier, to: Date) {
  const { rows } = await client.query<{ version: number; valid_from: Date; settings: LifecycleSettings }>(
    'SELECT version, valid_from, settings FROM router.lifecycle_settings_versions WHERE valid_from <= $1::timestamptz ORDER BY version',
    [to],
  );
  return rows;
}

/**
 * The opening of the oldest conversation that may have been open at `from` (not resolved or closed
 * by then): where replay rebuilding the state at `from` has to start reading. Undefined: none.
 */
export async function oldestOpenAt(client: Querier, from: Date): Promise<Date | undefined> {
  const { rows } = await client.query<{ at: Date | null }>(
    `SELECT min(opened_at) AS at FROM router.conversations
      WHERE opened_at < $1::timestamptz AND NOT (status IN ('resolved', 'closed') AND updated_at < $1::timestamptz)`,
    [from],
  );
  return rows[0]?.at ?? undefined;
}
