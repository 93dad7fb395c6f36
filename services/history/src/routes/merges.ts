import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { originOf, principalOf, recordAudit } from '@omni/auth';
import { AppError } from '@omni/service';
import { getMerge, unmerge } from '../store/merges';
import { actorName, mergers, type CustomerRouteDeps } from './customers';
import { ErrorRef, MergeView, NO_NUL } from './schemas';

const MergeParams = Type.Object({ mergeId: Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL }) });

/** Reading and undoing merges (manual or automatic). */
export const mergeRoutes: FastifyPluginAsync<CustomerRouteDeps> = async (app, deps) => {
  app.get<{ Params: { mergeId: string } }>(
    '/v1/merges/:mergeId',
    { config: mergers, schema: { params: MergeParams, response: { 200: MergeView, '4xx': ErrorRef } } },
    async (req) => {
      const m = await getMerge(deps.pool, req.params.mergeId);
      if (!m) throw new AppError('NOT_FOUND', `merge ${req.params.mergeId} not found`, [{ field: 'params.mergeId', reason: 'unknown merge' }]);
      return m;
    },
  );
  app.post<{ Params: { mergeId: string }; Body: { actor?: string; reason?: string } }>(
    '/v1/merges/:mergeId/unmerge',
    {
      config: mergers,
      schema: {
        description: 'Undo a merge: both customers get back exactly their own identities and timelines; the pair is never auto-merged again.',
        params: MergeParams,
        body: Type.Object(
          { actor: Type.Optional(Type.String({ maxLength: 128, description: 'ignored: recorded as the signed-in caller' })), reason: Type.Optional(Type.String({ maxLength: 2000, pattern: NO_NUL })) },
          { additionalProperties: false },
        ),
        response: { 200: MergeView, '4xx': ErrorRef },
      },
    },
    async (req) => {
      const who = principalOf(req);
      const before = await getMerge(deps.pool, req.params.mergeId);
      const m = await unmerge(deps.pool, deps.customersTopic, { mergeId: req.params.mergeId, actor: actorName(who), ...(req.body.reason ? { reason: req.body.reason } : {}) });
      deps.relay?.kick();
      await recordAudit(deps.pool, 'history', {
        actor: who,
        action: 'customer.unmerge',
        target: { type: 'merge', id: m.id },
        // ids only: free text (reasons) may name the person, and the trail cannot be erased
        before: before ? { mergeId: before.id, source: { id: before.sourceId, mergedInto: before.targetId } } : null,
        after: { mergeId: m.id, source: { id: m.sourceId, mergedInto: null } },
        origin: originOf(req),
      });
      return m;
    },
  );
};
