import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { originOf, principalOf, recordAudit } from '@omni/auth';
import { AppError } from '@omni/service';
import { requestErasure, runErasure, type ErasureDeps } from '../store/erasure';
import { ErrorRef, IdParams, NO_NUL } from './schemas';

/** `POST /v1/customers/:id/erase` (admins): forget the person behind a customer, in history. */
export const erasureRoutes: FastifyPluginAsync<ErasureDeps> = async (app, deps) => {
  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/v1/customers/:id/erase',
    {
      config: { auth: { roles: [] } },
      schema: {
        description:
          'Right to be forgotten: deletes the customer and everyone merged with it (timeline, conversations, identities, merges) and puts tombstones on omni.customers.v1. Idempotent per request; an interrupted erasure resumes at start-up.',
        params: IdParams,
        body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500, pattern: NO_NUL })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ erasureId: Type.String(), customers: Type.Array(Type.String()), done: Type.Boolean() }), '4xx': ErrorRef },
      },
    },
    async (req) => {
      const who = principalOf(req);
      const erasure = await requestErasure(deps.pool, req.params.id, `${who.role}:${who.sub}`, deps.erasuresTopic);
      deps.kickRelay?.();
      if (!erasure) throw new AppError('NOT_FOUND', `customer ${req.params.id} not found`, [{ field: 'params.id', reason: 'unknown customer' }]);
      // the audit row names only opaque ids: the person's data is what is being removed
      await recordAudit(deps.pool, 'history', {
        actor: who,
        action: 'customer.erase',
        target: { type: 'customer', id: erasure.customerId },
        after: { erasureId: erasure.id, customers: erasure.members, ...(req.body?.reason ? { reason: req.body.reason } : {}) },
        origin: originOf(req),
      });
      const done = await runErasure(deps, erasure.id);
      return { erasureId: erasure.id, customers: erasure.members, done: done.done };
    },
  );
};
