import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { withTransaction } from '@omni/db';
import { AppError } from '@omni/service';
import { originOf, principalOf, recordAudit } from '@omni/auth';
import { BusinessHours, TierHours, calendarProblems } from '../domain/business-hours';
import { activateHours, activeHours, ALWAYS_OPEN, getHours, listHours, replaceHours, saveHoursDraft, setHoursReplayJob } from '../store/business-hours-store';
import type { ReplayJobs } from '../replay/jobs';
import { draftReplayRoutes, ReplayWindow, saveDraftAndReplay, VersionParams } from '../replay/routes';

const Meta = {
  version: Type.Integer(),
  active: Type.Boolean(),
  createdBy: Type.String(),
  note: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  /** a draft: activated only once its replay completed (docs/replay.md "Safe activation") */
  activateAfterReplay: Type.Boolean(),
  replayJobId: Type.Union([Type.String(), Type.Null()]),
};
const TierStatus = Type.Object({ tier: Type.Integer(), open: Type.Boolean(), nextOpening: Type.Union([Type.String(), Type.Null()]) });
const HoursBody = Type.Object({ ...Meta, hours: Type.Ref(BusinessHours), now: Type.Array(TierStatus) }, { $id: 'BusinessHoursVersion' });
const ReplaceBody = Type.Object(
  {
    hours: Type.Ref(BusinessHours),
    note: Type.Optional(Type.String({ maxLength: 500 })),
    /** save as an inactive draft and replay this window with it; activate it once the replay is done */
    activateAfterReplay: Type.Optional(ReplayWindow),
  },
  { additionalProperties: false },
);

/** Open now and next opening per tier, so an admin sees at once what an edit means. */
function statusNow(hours: BusinessHours, at: Date): Static<typeof TierStatus>[] {
  const t = new TierHours(hours);
  return [1, 2, 3, 4, 5].map((tier) => ({ tier, open: t.isOpen(tier, at), nextOpening: t.nextOpening(tier, at)?.toISOString() ?? null }));
}

/** Business hours per tier (docs/queue-intelligence.md): supervisors (and history's service token, scope business-hours:read, for business-time KPIs) read them; admins replace them (new version) and re-activate versions (audited). */
export const adminBusinessHoursRoutes: FastifyPluginAsync<{ pool: Pool; replayJobs: ReplayJobs }> = async (app, { pool, replayJobs }) => {
  app.addSchema(BusinessHours);

  app.get('/v1/admin/business-hours', { config: { auth: { roles: ['supervisor', 'service'], scopes: ['business-hours:read'] } }, schema: { summary: 'The active business hours (always open when none were set)', response: { 200: HoursBody, '4xx': { $ref: 'ErrorBody#' } } } }, async () => {
    const v = await activeHours(pool);
    const hours = v?.hours ?? ALWAYS_OPEN;
    return { ...(v ?? { version: 0, active: true, createdBy: 'default', note: 'no business hours set: always open', createdAt: new Date(0).toISOString(), activateAfterReplay: false, replayJobId: null }), hours, now: statusNow(hours, new Date()) };
  });

  app.put<{ Body: Static<typeof ReplaceBody> }>(
    '/v1/admin/business-hours',
    { config: { auth: { roles: [] } }, schema: { summary: 'Replace the business hours (stored as a new active version; admins)', body: ReplaceBody, response: { 201: HoursBody, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req, reply) => {
      const problems = Object.entries(req.body.hours.tiers).flatMap(([tier, cal]) => (cal ? calendarProblems(cal, `body.hours.tiers.${tier}`) : []));
      if (problems.length) throw new AppError('VALIDATION', problems.map((p) => `${p.field}: ${p.reason}`).join('; '), problems);
      const actor = principalOf(req);
      const after = req.body.activateAfterReplay;
      if (after) {
        // a draft: stored inactive, replayed in the background, activated later (POST …/versions/:version/activate)
        const draft = await saveDraftAndReplay(
          { jobs: replayJobs, kind: 'business-hours', window: after, createdBy: actor.sub },
          (window) =>
            withTransaction(pool, async (c) => {
              const created = await saveHoursDraft(c, req.body.hours, actor.sub, req.body.note);
              await recordAudit(c, 'router', { actor, action: 'business-hours.draft', target: { type: 'business-hours', id: String(created.version) }, after: { version: created.version, hours: created.hours, note: created.note, replayWindow: window }, origin: originOf(req) });
              return created;
            }),
          (d) => ({ hours: d.hours }),
          (version, id) => setHoursReplayJob(pool, version, id),
        );
        return reply.status(201).send({ ...draft, now: statusNow(draft.hours, new Date()) });
      }
      const v = await withTransaction(pool, async (c) => {
        const before = await activeHours(c);
        const created = await replaceHours(c, req.body.hours, actor.sub, req.body.note);
        await recordAudit(c, 'router', { actor, action: 'business-hours.replace', target: { type: 'business-hours', id: String(created.version) }, before: before ? { version: before.version, hours: before.hours } : null, after: { version: created.version, hours: created.hours, note: created.note }, origin: originOf(req) });
        return created;
      });
      return reply.status(201).send({ ...v, now: statusNow(v.hours, new Date()) });
    },
  );

  app.get(
    '/v1/admin/business-hours/versions',
    { config: { auth: { roles: ['supervisor', 'service'], scopes: ['business-hours:read'] } }, schema: { summary: 'Every business-hours version, newest first', response: { 200: Type.Object({ versions: Type.Array(Type.Object(Meta)) }) } } },
    async () => ({ versions: await listHours(pool) }),
  );

  app.post<{ Params: { version: number } }>(
    '/v1/admin/business-hours/versions/:version/activate',
    { config: { auth: { roles: [] } }, schema: { summary: 'Make an earlier version (or a replayed draft) active (admins)', params: VersionParams, response: { 200: HoursBody, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req) => {
      const v = await withTransaction(pool, async (c) => {
        const before = await activeHours(c);
        const activated = await activateHours(c, req.params.version);
        // a draft without a completed replay: 409 naming why
        if (activated && 'refused' in activated) throw new AppError('CONFLICT', activated.refused);
        if (activated)
          await recordAudit(c, 'router', { actor: principalOf(req), action: 'business-hours.activate', target: { type: 'business-hours', id: String(activated.version) }, before: before ? { version: before.version } : null, after: { version: activated.version }, origin: originOf(req) });
        return activated;
      });
      if (!v) throw new AppError('NOT_FOUND', `business hours version ${req.params.version} not found`);
      return { ...v, now: statusNow(v.hours, new Date()) };
    },
  );

  draftReplayRoutes(app, {
    jobs: replayJobs,
    kind: 'business-hours',
    prefix: '/v1/admin/business-hours/versions',
    what: 'business hours',
    draft: async (version) => {
      const d = await getHours(pool, version);
      return d && { active: d.active, activateAfterReplay: d.activateAfterReplay, proposed: { hours: d.hours } };
    },
    link: (version, id) => setHoursReplayJob(pool, version, id),
  });
};
