import type { Pool } from 'pg';
import type { BusinessHours } from '@omni/business-time';
import { withTransaction } from '@omni/db';

export interface VersionMeta {
  version: number;
  createdAt: string;
}

export interface KnownCalendars {
  /** every version seen, with its hours (null: superseded before history saw it active) */
  versions: Map<number, BusinessHours | null>;
  /** when each version came into force, oldest first */
  periods: { fromAt: string; version: number }[];
}

/**
 * Records what the router answered: every listed version (immutable, so inserted once) and the
 * active one's hours. Each version came into force when it was created (a replace activates it); an
 * active version that is not the newest was re-activated, and its period starts when history first
 * sees it so (`observedAt`), since the router's API does not date activations.
 */
export async function recordVersions(pool: Pool, listed: VersionMeta[], active: { version: number; hours: BusinessHours } | null, observedAt: string): Promise<void> {
  await withTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', ['history:business_hours']);
    if (listed.length)
      await c.query(
        `INSERT INTO history.business_hours_versions (version, created_at)
         SELECT * FROM unnest($1::int[], $2::timestamptz[]) ON CONFLICT (version) DO NOTHING`,
        [listed.map((v) => v.version), listed.map((v) => v.createdAt)],
      );
    if (listed.length)
      await c.query(
        `INSERT INTO history.business_hours_periods (from_at, version, observed)
         SELECT t, v, false FROM unnest($1::timestamptz[], $2::int[]) AS x(t, v) ON CONFLICT DO NOTHING`,
        [listed.map((v) => v.createdAt), listed.map((v) => v.version)],
      );
    if (!active || active.version === 0) return;
    await c.query('UPDATE history.business_hours_versions SET hours = $2::jsonb, fetched_at = now() WHERE version = $1::int AND hours IS NULL', [
      active.version,
      JSON.stringify(active.hours),
    ]);
    const current = await c.query<{ version: number }>(
      'SELECT version FROM history.business_hours_periods WHERE from_at <= $1::timestamptz ORDER BY from_at DESC, observed DESC LIMIT 1',
      [observedAt],
    );
    if (current.rows[0]?.version !== active.version)
      await c.query('INSERT INTO history.business_hours_periods (from_at, version, observed) VALUES ($1::timestamptz, $2::int, true) ON CONFLICT DO NOTHING', [
        observedAt,
        active.version,
      ]);
  });
}

/** Every version and period history knows. */
export async function loadKnownCalendars(pool: Pool): Promise<KnownCalendars> {
  const v = await pool.query<{ version: number; hours: BusinessHours | null }>('SELECT version, hours FROM history.business_hours_versions');
  const p = await pool.query<{ from_at: Date; version: number }>('SELECT from_at, version FROM history.business_hours_periods ORDER BY from_at, observed');
  return { versions: new Map(v.rows.map((r) => [r.version, r.hours])), periods: p.rows.map((r) => ({ fromAt: r.from_at.toISOString(), version: r.version })) };
}
