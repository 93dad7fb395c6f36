import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { withTransaction } from '@omni/db';
import { AppError } from '@omni/service';
import { originOf, principalOf, recordAudit } from '@omni/auth';
import { PresenceReasons, presenceReasonsProblems } from '../domain/wrap-up';
import { listPresenceReasons, replacePresenceReasons } from '../store/presence-reasons';

const ReasonsBody = Type.Object({ reasons: Type.Ref(PresenceReasons) }, { $id: 'PresenceReasonList' });
const ReplaceBody = Type.Object({ reasons: Type.Ref(PresenceReasons) }, { additionalProperties: false });

/**
 * Away reasons (break, training, meeting…; docs/queue-intelligence.md): agents and supervisors read
 * the list (the console's picker); admins replace it (audited). An agent's `presence` command with
 * a reason not in the list is refused; agents already away keep the reason they gave.
 */
export const presenceReasonRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.addSchema(PresenceReasons);

  app.get(
    '/v1/presence-reasons',
    { config: { auth: { roles: ['supervisor', 'agent'] } }, schema: { summary: 'The away reasons an agent may give', response: { 200: ReasonsBody, '4xx': { $ref: 'ErrorBody#' } } } },
    async () => ({ reasons: await listPresenceReasons(pool) }),
  );

  app.put<{ Body: Static<typeof ReplaceBody> }>(
    '/v1/admin/presence-reasons',
    { config: { auth: { roles: [] } }, schema: { summary: 'Replace the away reasons (admins; audited)', body: ReplaceBody, response: { 200: ReasonsBody, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req) => {
      const problems = presenceReasonsProblems(req.body.reasons);
      if (problems.length) throw new AppError('VALIDATION', problems.map((p) => `${p.field}: ${p.reason}`).join('; '), problems);
      const reasons = await withTransaction(pool, async (c) => {
        const before = await listPresenceReasons(c);
        await replacePresenceReasons(c, req.body.reasons);
        const after = await listPresenceReasons(c);
        await recordAudit(c, 'router', { actor: principalOf(req), action: 'presence-reasons.replace', target: { type: 'presence-reasons', id: 'all' }, before: { reasons: before }, after: { reasons: after }, origin: originOf(req) });
        return after;
      });
      return { reasons };
    },
  );
};
