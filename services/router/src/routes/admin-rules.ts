import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { withTransaction } from '@omni/db';
import { AppError } from '@omni/service';
import { originOf, principalOf, recordAudit } from '@omni/auth';
import { Rule, RuleList, ruleProblems } from '../domain/rules';
import { activateRuleSet, activeRuleSet, getRuleSet, listRuleSets, replaceRules, saveRuleDraft, setRuleReplayJob } from '../store/rule-store';
import type { ReplayJobs } from '../replay/jobs';
import { draftReplayRoutes, ReplayWindow, saveDraftAndReplay, VersionParams } from '../replay/routes';
import { SelfServiceSetting } from '../domain/self-service';

const RuleSetMeta = {
  version: Type.Integer(),
  active: Type.Boolean(),
  createdBy: Type.String(),
  note: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  /** a draft: activated only once its replay completed (docs/replay.md "Safe activation") */
  activateAfterReplay: Type.Boolean(),
  replayJobId: Type.Union([Type.String(), Type.Null()]),
};
const RuleSetBody = Type.Object({ ...RuleSetMeta, rules: Type.Array(Type.Ref(Rule)), selfService: Type.Union([Type.Ref(SelfServiceSetting), Type.Null()]) }, { $id: 'RuleSet' });
const ReplaceBody = Type.Object(
  {
    rules: RuleList,
    note: Type.Optional(Type.String({ maxLength: 500 })),
    /** save as an inactive draft and replay this window with it; activate it once the replay is done */
    activateAfterReplay: Type.Optional(ReplayWindow),
    /** self-service (tier 0) for these categories (docs/knowledge.md); absent keeps the active version's, null turns it off */
    selfService: Type.Optional(Type.Union([Type.Ref(SelfServiceSetting), Type.Null()])),
  },
  { additionalProperties: false },
);

/** Classification rules: supervisors read them; admins replace them (new version) and re-activate versions (audited). */
export const adminRuleRoutes: FastifyPluginAsync<{ pool: Pool; replayJobs: ReplayJobs }> = async (app, { pool, replayJobs }) => {
  app.addSchema(Rule);
  app.addSchema(SelfServiceSetting);

  app.get('/v1/admin/rules', { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'The active rule set', response: { 200: RuleSetBody, '4xx': { $ref: 'ErrorBody#' } } } }, async () => {
    const set = await activeRuleSet(pool);
    if (!set) throw new AppError('NOT_FOUND', 'no active rule set');
    return set;
  });

  app.put<{ Body: Static<typeof ReplaceBody> }>(
    '/v1/admin/rules',
    { config: { auth: { roles: [] } }, schema: { summary: 'Replace the rules (stored as a new active version; admins)', body: ReplaceBody, response: { 201: RuleSetBody, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req, reply) => {
      const problems = ruleProblems(req.body.rules);
      if (problems.length) throw new AppError('VALIDATION', problems.map((p) => `${p.field}: ${p.reason}`).join('; '), problems);
      const actor = principalOf(req);
      const after = req.body.activateAfterReplay;
      if (after) {
        // a draft: stored inactive, replayed in the background, activated later (POST …/versions/:version/activate)
        const draft = await saveDraftAndReplay(
          { jobs: replayJobs, kind: 'rules', window: after, createdBy: actor.sub },
          (window) =>
            withTransaction(pool, async (c) => {
              const created = await saveRuleDraft(c, req.body.rules, actor.sub, req.body.note, req.body.selfService);
              await recordAudit(c, 'router', { actor, action: 'rules.draft', target: { type: 'rule-set', id: String(created.version) }, after: { version: created.version, rules: created.rules, selfService: created.selfService, note: created.note, replayWindow: window }, origin: originOf(req) });
              return created;
            }),
          (d) => ({ rules: d.rules }),
          (version, id) => setRuleReplayJob(pool, version, id),
        );
        return reply.status(201).send(draft);
      }
      const set = await withTransaction(pool, async (c) => {
        const before = await activeRuleSet(c);
        const created = await replaceRules(c, req.body.rules, actor.sub, req.body.note, req.body.selfService);
        await recordAudit(c, 'router', {
          actor,
          action: 'rules.replace',
          target: { type: 'rule-set', id: String(created.version) },
          before: before ? { version: before.version, rules: before.rules, selfService: before.selfService } : null,
          after: { version: created.version, rules: created.rules, selfService: created.selfService, note: created.note },
          origin: originOf(req),
        });
        return created;
      });
      return reply.status(201).send(set);
    },
  );

  app.get(
    '/v1/admin/rules/versions',
    { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'Every rule-set version, newest first', response: { 200: Type.Object({ versions: Type.Array(Type.Object(RuleSetMeta)) }) } } },
    async () => ({ versions: await listRuleSets(pool) }),
  );

  app.post<{ Params: { version: number } }>(
    '/v1/admin/rules/versions/:version/activate',
    {
      config: { auth: { roles: [] } },
      schema: {
        summary: 'Make an earlier version active again (admins)',
       
        params: VersionParams,
        response: { 200: RuleSetBody, '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req) => {
      const set = await withTransaction(pool, async (c) => {
        const before = await activeRuleSet(c);
        const activated = await activateRuleSet(c, req.params.version);
        // a draft without a completed replay: 409 naming why (the transaction only took its lock)
        if (activated && 'refused' in activated) throw new AppError('CONFLICT', activated.refused);
        if (activated)
          await recordAudit(c, 'router', { actor: principalOf(req), action: 'rules.activate', target: { type: 'rule-set', id: String(activated.version) }, before: before ? { version: before.version } : null, after: { version: activated.version }, origin: originOf(req) });
        return activated;
      });
      if (!set) throw new AppError('NOT_FOUND', `rule set version ${req.params.version} not found`);
      return set;
    },
  );

  draftReplayRoutes(app, {
    jobs: replayJobs,
    kind: 'rules',
    prefix: '/v1/admin/rules/versions',
    what: 'rule set',
    draft: async (version) => {
      const d = await getRuleSet(pool, version);
      return d && { active: d.active, activateAfterReplay: d.activateAfterReplay, proposed: { rules: d.rules } };
    },
    link: (version, id) => setRuleReplayJob(pool, version, id),
  });
};
