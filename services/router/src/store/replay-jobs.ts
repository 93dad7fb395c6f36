import type { PoolClient } from 'pg';

/**
 * Replay jobs of the admin API (router.replay_jobs): request, progress, report, and the draft
 * version a job was run for. A running job's heartbeat is refreshed by the router running it; one
 * not refreshed for `staleMs` (that router is gone) is marked failed, never left running or lost.
 */

type Querier = Pick<PoolClient, 'query'>;

export type ReplayTarget = { kind: 'rules' | 'business-hours'; version: number };

export interface StoredReplayJob {
  id: string;
  status: 'running' | 'done' | 'failed';
  createdAt: string;
  createdBy: string;
  finishedAt?: string;
  request: Record<string, unknown>;
  progress: Record<string, unknown>;
  target?: ReplayTarget;
  report?: unknown;
  error?: string;
}

type Row = {
  id: string;
  status: StoredReplayJob['status'];
  created_at: Date;
  created_by: string;
  finished_at: Date | null;
  request: Record<string, unknown>;
  progress: Record<string, unknown>;
  target_kind: ReplayTarget['kind'] | null;
  target_version: number | null;
  report?: unknown;
  error: string | null;
};

const META = 'id, status, created_at, created_by, finished_at, request, progress, target_kind, target_version, error';

const toJob = (r: Row): StoredReplayJob => ({
  id: r.id,
  status: r.status,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
  ...(r.finished_at ? { finishedAt: r.finished_at.toISOString() } : {}),
  request: r.request,
  progress: r.progress,
  ...(r.target_kind && r.target_version !== null ? { target: { kind: r.target_kind, version: r.target_version } } : {}),
  ...(r.report !== undefined && r.report !== null ? { report: r.report } : {}),
  ...(r.error ? { error: r.error } : {}),
});

export async function insertReplayJob(db: Querier, j: { id: string; request: Record<string, unknown>; progress: Record<string, unknown>; createdBy: string; target?: ReplayTarget }): Promise<StoredReplayJob> {
  const { rows } = await db.query<Row>(
    `INSERT INTO router.replay_jobs (id, status, request, progress, created_by, target_kind, target_version)
     VALUES ($1::text, 'running', $2::jsonb, $3::jsonb, $4::text, $5::text, $6::int) RETURNING ${META}`,
    [j.id, JSON.stringify(j.request), JSON.stringify(j.progress), j.createdBy, j.target?.kind ?? null, j.target?.version ?? null],
  );
  return toJob(rows[0]!);
}

/** Progress of a running job (and its heartbeat). */
export async function saveReplayProgress(db: Querier, id: string, progress: Record<string, unknown>): Promise<void> {
  await db.query(`UPDATE router.replay_jobs SET progress = $2::jsonb, heartbeat_at = now() WHERE id = $1::text AND status = 'running'`, [id, JSON.stringify(progress)]);
}

export async function heartbeatReplayJobs(db: Querier, ids: string[]): Promise<void> {
  if (ids.length) await db.query(`UPDATE router.replay_jobs SET heartbeat_at = now() WHERE id = ANY($1::text[]) AND status = 'running'`, [ids]);
}

/** Ends a running job: done with its report, or failed with why. */
export async function finishReplayJob(db: Querier, id: string, end: { status: 'done'; report: unknown; progress: Record<string, unknown> } | { status: 'failed'; error: string }): Promise<void> {
  if (end.status === 'done')
    await db.query(`UPDATE router.replay_jobs SET status = 'done', report = $2::jsonb, progress = $3::jsonb, finished_at = now() WHERE id = $1::text AND status = 'running'`, [
      id,
      JSON.stringify(end.report),
      JSON.stringify(end.progress),
    ]);
  else await db.query(`UPDATE router.replay_jobs SET status = 'failed', error = $2::text, finished_at = now() WHERE id = $1::text AND status = 'running'`, [id, end.error]);
}

/** Running jobs whose router stopped refreshing them are failed (a restart interrupted them). */
export async function failStaleReplayJobs(db: Querier, staleMs: number): Promise<number> {
  const r = await db.query(
    `UPDATE router.replay_jobs SET status = 'failed', finished_at = now(), error = 'interrupted: the router running it stopped (restart or crash) before it finished'
      WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1::double precision / 1000)`,
    [staleMs],
  );
  return r.rowCount ?? 0;
}

export async function getReplayJob(db: Querier, id: string, withReport = true): Promise<StoredReplayJob | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${META}${withReport ? ', report' : ''} FROM router.replay_jobs WHERE id = $1::text`, [id]);
  return rows[0] && toJob(rows[0]);
}

export async function listReplayJobs(db: Querier, limit = 50, target?: ReplayTarget): Promise<StoredReplayJob[]> {
  const { rows } = target
    ? await db.query<Row>(`SELECT ${META} FROM router.replay_jobs WHERE target_kind = $2::text AND target_version = $3::int ORDER BY created_at DESC, id LIMIT $1::int`, [limit, target.kind, target.version])
    : await db.query<Row>(`SELECT ${META} FROM router.replay_jobs ORDER BY created_at DESC, id LIMIT $1::int`, [limit]);
  return rows.map(toJob);
}


/** A draft version's flag and its replay job's status (rule_sets or business_hours LEFT JOIN replay_jobs). */
export type GateRow = { activate_after_replay: boolean; replay_job_id: string | null; status: string | null; error: string | null };

/** Why a version marked "activate after replay" cannot be activated yet (undefined: it can). */
export function replayGate(what: string, g: GateRow): string | undefined {
  if (!g.activate_after_replay || g.status === 'done') return undefined;
  if (!g.replay_job_id || !g.status) return `${what} is marked activate after replay and has no replay: start one (POST …/versions/:version/replays)`;
  if (g.status === 'running') return `${what} is marked activate after replay and its replay ${g.replay_job_id} is still running`;
  return `${what} is marked activate after replay and its replay ${g.replay_job_id} failed (${g.error ?? 'no reason'}): start another (POST …/versions/:version/replays)`;
}
