import type { Pool, PoolClient } from 'pg';
import { TierHours, type BusinessHours } from '../domain/business-hours';
import { replayGate, type GateRow } from './replay-jobs';

export interface HoursVersion {
  version: number;
  hours: BusinessHours;
  active: boolean;
  createdBy: string;
  note: string | null;
  createdAt: string;
  /** a draft that can only be activated once a replay of it completed (docs/replay.md "Safe activation") */
  activateAfterReplay: boolean;
  replayJobId: string | null;
}

type Querier = Pick<PoolClient, 'query'>;
const COLUMNS = 'version, hours, active, created_by, note, created_at, activate_after_replay, replay_job_id';
const toVersion = (r: { version: number; hours: BusinessHours; active: boolean; created_by: string; note: string | null; created_at: Date; activate_after_replay: boolean; replay_job_id: string | null }): HoursVersion => ({
  version: r.version,
  hours: r.hours,
  active: r.active,
  createdBy: r.created_by,
  note: r.note,
  createdAt: r.created_at.toISOString(),
  activateAfterReplay: r.activate_after_replay,
  replayJobId: r.replay_job_id,
});

/** No version yet: every tier is always open (the router's behaviour before business hours). */
export const ALWAYS_OPEN: BusinessHours = { tiers: {} };

export async function activeHours(client: Querier): Promise<HoursVersion | undefined> {
  const { rows } = await client.query(`SELECT ${COLUMNS} FROM router.business_hours WHERE active`);
  return rows[0] ? toVersion(rows[0]) : undefined;
}

export async function listHours(client: Querier): Promise<Omit<HoursVersion, 'hours'>[]> {
  const { rows } = await client.query(`SELECT ${COLUMNS} FROM router.business_hours ORDER BY version DESC LIMIT 200`);
  return rows.map((r) => {
    const { hours: _hours, ...rest } = toVersion(r);
    return rest;
  });
}

/** Stores the hours as a new version and makes it the active one (call in a transaction). */
export async function replaceHours(client: Querier, hours: BusinessHours, createdBy: string, note?: string): Promise<HoursVersion> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:business_hours']);
  await client.query('UPDATE router.business_hours SET active = false WHERE active');
  const { rows } = await client.query(
    `INSERT INTO router.business_hours (version, hours, active, created_by, note)
     SELECT COALESCE(max(version), 0) + 1, $1::jsonb, true, $2::text, $3::text FROM router.business_hours
     RETURNING ${COLUMNS}`,
    [JSON.stringify(hours), createdBy, note ?? null],
  );
  return toVersion(rows[0]);
}

/** Stores the hours as a new inactive version marked "activate after replay" (call in a transaction). */
export async function saveHoursDraft(client: Querier, hours: BusinessHours, createdBy: string, note?: string): Promise<HoursVersion> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:business_hours']);
  const { rows } = await client.query(
    `INSERT INTO router.business_hours (version, hours, active, created_by, note, activate_after_replay)
     SELECT COALESCE(max(version), 0) + 1, $1::jsonb, false, $2::text, $3::text, true FROM router.business_hours
     RETURNING ${COLUMNS}`,
    [JSON.stringify(hours), createdBy, note ?? null],
  );
  return toVersion(rows[0]);
}

export async function getHours(client: Querier, version: number): Promise<HoursVersion | undefined> {
  const { rows } = await client.query(`SELECT ${COLUMNS} FROM router.business_hours WHERE version = $1::int`, [version]);
  return rows[0] ? toVersion(rows[0]) : undefined;
}

/** The replay job whose report a draft waits for (the latest one started for it). */
export async function setHoursReplayJob(client: Querier, version: number, jobId: string): Promise<void> {
  await client.query('UPDATE router.business_hours SET replay_job_id = $2::text WHERE version = $1::int', [version, jobId]);
}

/**
 * Makes a version active (call in a transaction): roll back an edit, or a draft whose replay
 * completed; a draft without a completed replay is refused with why; undefined if there is no such version.
 */
export async function activateHours(client: Querier, version: number): Promise<HoursVersion | { refused: string } | undefined> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:business_hours']);
  const exists = await client.query<GateRow>(
    'SELECT h.activate_after_replay, h.replay_job_id, j.status, j.error FROM router.business_hours h LEFT JOIN router.replay_jobs j ON j.id = h.replay_job_id WHERE h.version = $1::int',
    [version],
  );
  if (exists.rowCount === 0) return undefined;
  const refused = replayGate(`business hours version ${version}`, exists.rows[0]!);
  if (refused) return { refused };
  await client.query('UPDATE router.business_hours SET active = false WHERE active');
  const { rows } = await client.query(`UPDATE router.business_hours SET active = true WHERE version = $1::int RETURNING ${COLUMNS}`, [version]);
  return toVersion(rows[0]);
}

/** The active calendars compiled, cached by version (each replica checks the version, like the rules). */
export class HoursCache {
  private cached?: { version: number; hours: TierHours };

  async active(client: PoolClient | Pool): Promise<{ version: number; hours: TierHours }> {
    const v = await client.query<{ version: number }>('SELECT version FROM router.business_hours WHERE active');
    const version = v.rows[0]?.version ?? 0;
    if (this.cached?.version === version) return this.cached;
    const r = version ? await client.query<{ hours: BusinessHours }>('SELECT hours FROM router.business_hours WHERE version = $1::int', [version]) : { rows: [] };
    this.cached = { version, hours: new TierHours(r.rows[0]?.hours ?? ALWAYS_OPEN) };
    return this.cached;
  }
}
