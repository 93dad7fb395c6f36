import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@omni/service';
import { getDeadLetter, listDeadLetters } from '../store/dead-letters';

const DeadLetterView = Type.Object(
  {
    id: Type.String(),
    sourceTopic: Type.String(),
    sourcePartition: Type.Integer(),
    sourceOffset: Type.String(),
    groupId: Type.String({ description: 'consumer group that gave up, or outbox:<schema> for an outbox row' }),
    reason: Type.String(),
    key: Type.Union([Type.String(), Type.Null()]),
    value: Type.Union([Type.String(), Type.Null()]),
    failedAt: Type.String(),
    receivedAt: Type.String(),
    replayedAt: Type.Union([Type.String(), Type.Null()]),
    replays: Type.Integer(),
    replay: Type.String({ description: 'the command that re-publishes it to its topic' }),
  },
  { $id: 'DeadLetter' },
);
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  before: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', description: 'page: ids below this one' })),
  topic: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  pending: Type.Optional(Type.Boolean({ description: 'only those not replayed yet' })),
});

const view = (r: Awaited<ReturnType<typeof getDeadLetter>> & object): Static<typeof DeadLetterView> => ({ ...r, replay: `npm run dlq:replay -- ${r.id}` });

/**
 * Dead letters of every service (router.dead_letters, fed from omni.dlq.v1), for admins: nothing a
 * consumer or an outbox relay gave up on is silently lost; each carries its replay command.
 */
export const deadLetterRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/v1/admin/dead-letters',
    { config: { auth: { roles: [] } }, schema: { querystring: ListQuery, response: { 200: Type.Object({ items: Type.Array(DeadLetterView) }), '4xx': { $ref: 'ErrorBody#' } } } },
    async (req) => {
      const rows = await listDeadLetters(pool, {
        limit: req.query.limit ?? 50,
        ...(req.query.before ? { before: req.query.before } : {}),
        ...(req.query.topic ? { topic: req.query.topic } : {}),
        pending: req.query.pending ?? false,
      });
      return { items: rows.map(view) };
    },
  );
  app.get<{ Params: { id: string } }>(
    '/v1/admin/dead-letters/:id',
    { config: { auth: { roles: [] } }, schema: { params: Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) }), response: { 200: DeadLetterView, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req) => {
      const row = await getDeadLetter(pool, req.params.id);
      if (!row) throw new AppError('NOT_FOUND', `dead letter ${req.params.id} not found`);
      return view(row);
    },
  );
};
