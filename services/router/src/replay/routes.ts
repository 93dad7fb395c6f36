import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@omni/service';
import { parseReplayConfig } from './config';
import type { ReplayJob, ReplayJobs } from './jobs';

/**
 * The admin API of replay (docs/replay.md): admins start a replay in the background, supervisors
 * follow its progress and read its report. Registered by app.ts; the roles are listed in
 * docs/access-control.md.
 */
const Iso = Type.String({ minLength: 10, maxLength: 40 });
const StartBody = Type.Object(
  { from: Iso, to: Iso, warmupFrom: Type.Optional(Iso), toleranceMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })), config: Type.Object({}, { additionalProperties: true }) },
  { additionalProperties: false },
);
const Page = Type.Object({ changesOffset: Type.Optional(Type.Integer({ minimum: 0 })), changesLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })) }, { additionalProperties: false });

/** A job as the API shows it: the report's changed conversations one page at a time. */
function view(j: ReplayJob, offset = 0, limit = 100): Record<string, unknown> {
  if (!j.report) return { ...j };
  const { changed, ...report } = j.report;
  return { ...j, report: { ...report, changed: changed.slice(offset, offset + limit), changesOffset: offset } };
}

export const adminReplayRoutes: FastifyPluginAsync<{ jobs: ReplayJobs }> = async (app, { jobs }) => {
  app.post<{ Body: Static<typeof StartBody> }>(
    '/v1/admin/replays',
    { config: { auth: { roles: [] } }, schema: { summary: 'Replay a recorded window with the live and a proposed configuration, in the background (admins)', body: StartBody } },
    async (req, reply) => {
      const { from, to, warmupFrom } = req.body;
      const f = Date.parse(from);
      const t = Date.parse(to);
      const w = warmupFrom === undefined ? f : Date.parse(warmupFrom);
      if (!Number.isFinite(f) || !Number.isFinite(t) || t <= f) throw new AppError('VALIDATION', 'from and to must be ISO times, from before to');
      if (!Number.isFinite(w) || w > f) throw new AppError('VALIDATION', 'warmupFrom must be an ISO time not after from');
      const cfg = parseReplayConfig(req.body.config);
      if (!cfg.ok) throw new AppError('VALIDATION', cfg.problems.map((p) => `config${p.path}: ${p.message}`).join('; '), cfg.problems.map((p) => ({ field: `body.config${p.path.replace(/\//g, '.')}`, reason: p.message })));
      const job = jobs.start(req.body);
      if (!job) throw new AppError('CONFLICT', 'a replay is already running on this replica; try again when it is done');
      return reply.status(202).send(view(job));
    },
  );

  app.get('/v1/admin/replays', { config: { auth: { roles: ['supervisor'] } }, schema: { summary: "This replica's replays, newest first" } }, async () => ({
    replays: jobs.list().map((j) => ({ id: j.id, status: j.status, createdAt: j.createdAt, finishedAt: j.finishedAt, request: j.request, progress: j.progress })),
  }));

  app.get<{ Params: { id: string }; Querystring: Static<typeof Page> }>(
    '/v1/admin/replays/:id',
    { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'A replay: progress, then its report', params: Type.Object({ id: Type.String({ maxLength: 64 }) }), querystring: Page } },
    async (req) => {
      const j = jobs.get(req.params.id);
      if (!j) throw new AppError('NOT_FOUND', `replay ${req.params.id} not found`);
      return view(j, req.query.changesOffset ?? 0, req.query.changesLimit ?? 100);
    },
  );
};
