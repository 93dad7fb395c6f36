import type { Pool } from 'pg';
import { CONSOLE_SEEN_SQL } from './agents';
import { preparedQuery } from './prepared';

/** Which timers have something due at `at`, and whether anything waits in a queue: one cheap read per sweep. */
export interface Due {
  offers: boolean;
  disconnected: boolean;
  sla: boolean;
  closes: boolean;
  waiting: boolean;
}

/**
 * One statement instead of a transaction per timer kind on every sweep of every replica: an idle
 * router sweeping once a second sent ~12 statements a second for nothing. Each EXISTS is the due
 * condition of its sweep (store/conversations.ts, store/agents.ts), on the same indexes.
 */
export async function dueWork(pool: Pick<Pool, 'query'>, at: Date, graceMs: number, reopenWindowMs: number): Promise<Due> {
  const { rows } = await pool.query<Due>(
    preparedQuery(
      `SELECT EXISTS (SELECT 1 FROM router.conversations WHERE status = 'offered' AND offer_deadline < $1::timestamptz) AS offers,
              EXISTS (SELECT 1 FROM router.agents WHERE presence <> 'offline'
                        AND ((session_id IS NULL AND disconnect_deadline < $1::timestamptz)
                          OR (session_id IS NOT NULL AND ${CONSOLE_SEEN_SQL} < $1::timestamptz - make_interval(secs => $2::double precision / 1000)))) AS disconnected,
              EXISTS (SELECT 1 FROM router.queue_entries WHERE sla_deadline < $1::timestamptz) AS sla,
              EXISTS (SELECT 1 FROM router.conversations WHERE status = 'resolved'
                        AND resolved_at < $1::timestamptz - make_interval(secs => $3::double precision / 1000)) AS closes,
              EXISTS (SELECT 1 FROM router.queue_entries) AS waiting`,
      [at, graceMs, reopenWindowMs],
    ),
  );
  return rows[0]!;
}
