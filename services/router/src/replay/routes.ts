import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { principalOf } from '@omni/auth';
import { PG_INTEGER_MAX } from '@omni/db';
import { AppError } from '@omni/service';
import { parseReplayConfig } from './config';
import type { ReplayJob, ReplayJobs } from './jobs';
import type { ReplayTarget } from '../store/replay-jobs';

/**
 * The admin API of replay (docs/replay.md): admins start a replay in the background, supervisors
 * follow its progress and read its report. Jobs and reports are kept in router.replay_jobs.
 * Registered by app.ts; the roles are listed in docs/access-control.md.
 */
const Iso = Type.String({ minLength: 10, maxLength: 40 });
/** A window to replay (also the body of "activate after replay" on rules and business hours). */
export const ReplayWindow = Type.Object(
  { from: Iso, to: Iso, warmupFrom: Type.Optional(Iso), toleranceMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })) },
  { additionalProperties: false },
);
export type ReplayWindow = Static<typeof ReplayWindow>;
const StartBody = Type.Object({ ...ReplayWindow.properties, config: Type.Object({}, { additionalProperties: true }) }, { additionalProperties: false });
export const Page = Type.Object({ changesOffset: Type.Optional(Type.Integer({ minimum: 0 })), changesLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })) }, { additionalProperties: false });

/** The window's times are ISO instants, from before to, warmupFrom not after from (a 400 naming the field otherwise): returned normalised. */
export function checkWindow(w: ReplayWindow, at = 'body'): ReplayWindow {
  const f = Date.parse(w.from);
  const t = Date.parse(w.to);
  if (!Number.isFinite(f)) throw new AppError('VALIDATION', `${at}.from must be an ISO time`, [{ field: `${at}.from`, reason: 'not an ISO time' }]);
  if (!Number.isFinite(t) || t <= f) throw new AppError('VALIDATION', `${at}.to must be an ISO time after from`, [{ field: `${at}.to`, reason: 'not an ISO time after from' }]);
  const wf = w.warmupFrom === undefined ? f : Date.parse(w.warmupFrom);
  if (!Number.isFinite(wf) || wf > f) throw new AppError('VALIDATION', `${at}.warmupFrom must be an ISO time not after from`, [{ field: `${at}.warmupFrom`, reason: 'not an ISO time at or before from' }]);
  const iso = (x: number) => new Date(x).toISOString();
  return { from: iso(f), to: iso(t), ...(w.warmupFrom !== undefined ? { warmupFrom: iso(wf) } : {}), ...(w.toleranceMs !== undefined ? { toleranceMs: w.toleranceMs } : {}) };
}

/** A job as the API shows it: the report's changed conversations one page at a time. */
export function jobView(j: ReplayJob, offset = 0, limit = 100): Record<string, unknown> {
  if (!j.report) return { ...j };
  const { changed, ...report } = j.report;
  return { ...j, report: { ...report, changed: changed.slice(offset, offset + limit), changesOffset: offset } };
}

/** A job in a list (no report). */
export const jobSummary = (j: ReplayJob) => ({ id: j.id, status: j.status, createdAt: j.createdAt, createdBy: j.createdBy, finishedAt: j.finishedAt, request: j.request, progress: j.progress, target: j.target, error: j.error });

export const BUSY = 'a replay is already running on this replica; try again when it is done';

/**
 * "Activate after replay" (docs/replay.md): starts the replay of a draft version over a window with
 * the draft as the proposal, and links the job to the version (its report is what activation waits
 * for). A 409 when this replica runs a replay already.
 */
export async function startDraftReplay(
  jobs: ReplayJobs,
  target: ReplayTarget,
  window: ReplayWindow,
  proposed: Record<string, unknown>,
  createdBy: string,
  link: (jobId: string) => Promise<void>,
): Promise<ReplayJob> {
  const job = await jobs.start({ ...window, config: { proposed: { name: `${target.kind} version ${target.version} (draft)`, ...proposed } } }, createdBy, target);
  if (!job) throw new AppError('CONFLICT', BUSY);
  await link(job.id);
  return job;
}

export const VersionParams = Type.Object({ version: Type.Integer({ minimum: 1, maximum: PG_INTEGER_MAX }) });

/**
 * The two routes of a versioned setting's drafts (rules, business hours): admins replay a window with a
 * draft (202; 404 unknown version; 409 not a draft waiting for a replay, or this replica busy),
 * supervisors read its latest replay and report.
 */
export function draftReplayRoutes(
  app: FastifyInstance,
  o: {
    jobs: ReplayJobs;
    kind: ReplayTarget['kind'];
    /** e.g. /v1/admin/rules/versions */
    prefix: string;
    what: string;
    draft: (version: number) => Promise<{ active: boolean; activateAfterReplay: boolean; proposed: Record<string, unknown> } | undefined>;
    link: (version: number, jobId: string) => Promise<void>;
  },
): void {
  app.post<{ Params: Static<typeof VersionParams>; Body: Static<typeof ReplayWindow> }>(
    `${o.prefix}/:version/replays`,
    { config: { auth: { roles: [] } }, schema: { summary: 'Replay a window with a draft version (activate after replay; admins)', params: VersionParams, body: ReplayWindow } },
    async (req, reply) => {
      const window = checkWindow(req.body);
      const v = req.params.version;
      const d = await o.draft(v);
      if (!d) throw new AppError('NOT_FOUND', `${o.what} version ${v} not found`);
      if (!d.activateAfterReplay || d.active) throw new AppError('CONFLICT', `${o.what} version ${v} is not a draft waiting for a replay`);
      const job = await startDraftReplay(o.jobs, { kind: o.kind, version: v }, window, d.proposed, principalOf(req).sub, (id) => o.link(v, id));
      return reply.status(202).send(jobView(job));
    },
  );
  app.get<{ Params: Static<typeof VersionParams>; Querystring: Static<typeof Page> }>(
    `${o.prefix}/:version/replay`,
    { config: { auth: { roles: ['supervisor'] } }, schema: { summary: "A version's latest replay and its report", params: VersionParams, querystring: Page } },
    async (req) => draftReplayView(o.jobs, { kind: o.kind, version: req.params.version }, req.query),
  );
}

/**
 * A change saved with `activateAfterReplay`: the window checked (400) and this replica free (409)
 * before anything is written, then `save` stores the draft (its transaction, with the audit entry)
 * and its replay starts, linked to it.
 */
export async function saveDraftAndReplay<T extends { version: number }>(
  o: { jobs: ReplayJobs; kind: ReplayTarget['kind']; window: ReplayWindow; createdBy: string },
  save: (window: ReplayWindow) => Promise<T>,
  proposed: (draft: T) => Record<string, unknown>,
  link: (version: number, jobId: string) => Promise<void>,
): Promise<T & { replayJobId: string }> {
  const window = checkWindow(o.window, 'body.activateAfterReplay');
  if (o.jobs.busy) throw new AppError('CONFLICT', BUSY);
  const draft = await save(window);
  const job = await startDraftReplay(o.jobs, { kind: o.kind, version: draft.version }, window, proposed(draft), o.createdBy, (id) => link(draft.version, id));
  return { ...draft, replayJobId: job.id };
}

/** A draft's latest replay with its report, next to the version (404 when it has none). */
export async function draftReplayView(jobs: ReplayJobs, target: ReplayTarget, page: { changesOffset?: number; changesLimit?: number }): Promise<Record<string, unknown>> {
  const [latest] = await jobs.list(target);
  if (!latest) throw new AppError('NOT_FOUND', `${target.kind} version ${target.version} has no replay`);
  const j = await jobs.get(latest.id);
  return jobView(j!, page.changesOffset ?? 0, page.changesLimit ?? 100);
}

export const adminReplayRoutes: FastifyPluginAsync<{ jobs: ReplayJobs }> = async (app, { jobs }) => {
  // jobs a previous run of this router (or a replica that is gone) left running are failed now
  await jobs.recover();
  app.addHook('onClose', async () => jobs.stop());

  app.post<{ Body: Static<typeof StartBody> }>(
    '/v1/admin/replays',
    { config: { auth: { roles: [] } }, schema: { summary: 'Replay a recorded window with the live and a proposed configuration, in the background (admins)', body: StartBody } },
    async (req, reply) => {
      const window = checkWindow(req.body);
      const cfg = parseReplayConfig(req.body.config);
      if (!cfg.ok) throw new AppError('VALIDATION', cfg.problems.map((p) => `config${p.path}: ${p.message}`).join('; '), cfg.problems.map((p) => ({ field: `body.config${p.path.replace(/\//g, '.')}`, reason: p.message })));
      const job = await jobs.start({ ...window, config: req.body.config }, principalOf(req).sub);
      if (!job) throw new AppError('CONFLICT', BUSY);
      return reply.status(202).send(jobView(job));
    },
  );

  app.get('/v1/admin/replays', { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'Replays (the last 50), newest first' } }, async () => ({
    replays: (await jobs.list()).map(jobSummary),
  }));

  app.get<{ Params: { id: string }; Querystring: Static<typeof Page> }>(
    '/v1/admin/replays/:id',
    { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'A replay: progress, then its report', params: Type.Object({ id: Type.String({ maxLength: 64, pattern: '^[A-Za-z0-9_]+$' }) }), querystring: Page } },
    async (req) => {
      const j = await jobs.get(req.params.id);
      if (!j) throw new AppError('NOT_FOUND', `replay ${req.params.id} not found`);
      return jobView(j, req.query.changesOffset ?? 0, req.query.changesLimit ?? 100);
    },
  );
};
