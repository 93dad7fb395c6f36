import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { withTransaction } from '@omni/db';
import { AppError } from '@omni/service';
import { claimsOf, requireRole } from '../auth/jwt-auth';
import { Rule, RuleList, ruleProblems } from '../domain/rules';
import { activateRuleSet, activeRuleSet, listRuleSets, replaceRules } from '../store/rule-store';

const RuleSetMeta = {
  version: Type.Integer(),
  active: Type.Boolean(),
  createdBy: Type.String(),
  note: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
};
const RuleSetBody = Type.Object({ ...RuleSetMeta, rules: Type.Array(Type.Ref(Rule)) }, { $id: 'RuleSet' });
const ReplaceBody = Type.Object({ rules: RuleList, note: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });

/** Admin REST for classification rules: read the active set, replace it (new version), list and re-activate versions. */
export const adminRuleRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.addHook('onRequest', requireRole('admin'));
  app.addSchema(Rule);

  app.get('/v1/admin/rules', { schema: { summary: 'The active rule set', response: { 200: RuleSetBody, '4xx': { $ref: 'ErrorBody#' } } } }, async () => {
    const set = await activeRuleSet(pool);
    if (!set) throw new AppError('NOT_FOUND', 'no active rule set');
    return set;
  });

  app.put<{ Body: Static<typeof ReplaceBody> }>(
    '/v1/admin/rules',
    { schema: { summary: 'Replace the rules (stored as a new active version)', body: ReplaceBody, response: { 201: RuleSetBody, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req, reply) => {
      const problems = ruleProblems(req.body.rules);
      if (problems.length) throw new AppError('VALIDATION', problems.map((p) => `${p.field}: ${p.reason}`).join('; '), problems);
      const set = await withTransaction(pool, (c) => replaceRules(c, req.body.rules, claimsOf(req).sub, req.body.note));
      return reply.status(201).send(set);
    },
  );

  app.get(
    '/v1/admin/rules/versions',
    { schema: { summary: 'Every rule-set version, newest first', response: { 200: Type.Object({ versions: Type.Array(Type.Object(RuleSetMeta)) }) } } },
    async () => ({ versions: await listRuleSets(pool) }),
  );

  app.post<{ Params: { version: number } }>(
    '/v1/admin/rules/versions/:version/activate',
    {
      schema: {
        summary: 'Make an earlier version active again',
       
        params: Type.Object({ version: Type.Integer({ minimum: 1 }) }),
        response: { 200: RuleSetBody, '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req) => {
      const set = await withTransaction(pool, (c) => activateRuleSet(c, req.params.version));
      if (!set) throw new AppError('NOT_FOUND', `rule set version ${req.params.version} not found`);
      return set;
    },
  );
};
