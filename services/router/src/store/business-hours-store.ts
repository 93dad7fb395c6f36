import type { Pool, PoolClient } from 'pg';
import { TierHours, type BusinessHours } from '../domain/business-hours';

export interface HoursVersion {
  version: number;
  hours: BusinessHours;
  active: boolean;
  createdBy: string;
  note: string | null;
  createdAt: string;
}

type Querier = Pick<PoolClient, 'query'>;
const COLUMNS = 'version, hours, active, created_by, note, created_at';
const toVersion = (r: { version: number; hours: BusinessHours; active: boolean; created_by: string; note: string | null; created_at: Date }): HoursVersion => ({
  version: r.version,
  hours: r.hours,
  active: r.active,
  createdBy: r.created_by,
  note: r.note,
  createdAt: r.created_at.toISOString(),
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

/** Makes an earlier version active again (call in a transaction); undefined if there is no such version. */
export async function activateHours(client: Querier, version: number): Promise<HoursVersion | undefined> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['router:business_hours']);
  const exists = await client.query('SELECT 1 FROM router.business_hours WHERE version = $1::int', [version]);
  if (exists.rowCount === 0) return undefined;
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
