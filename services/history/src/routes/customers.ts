import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { CHANNELS } from '@omni/contracts';
import type { OutboxRelay } from '@omni/kafka';
import { AppError, badField } from '@omni/service';
import { identityKey, parseIdentityKey } from '../domain/identity';
import { loadCustomer, subtreeOf } from '../store/customers';
import { mergeByRequest, mergesOf } from '../store/merges';
import { readTimeline } from '../store/timeline';
import { ChannelParam, CustomerView, decodeCursor, encodeCursor, ErrorRef, IdParams, MergeView, TimelineItem } from './schemas';

export interface CustomerRouteDeps {
  pool: Pool;
  customersTopic: string;
  relay?: Pick<OutboxRelay, 'kick'>;
}

const TimelineQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  channel: Type.Optional(ChannelParam),
  conversation: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive' })),
});
type TimelineQueryT = { cursor?: string; limit: number; channel?: string; conversation?: string; from?: string; to?: string };

const MergeBody = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 128, description: 'the customer merged into the one in the path' }),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    actor: Type.String({ minLength: 1, maxLength: 128, description: 'who decided, e.g. agent:maria' }),
  },
  { additionalProperties: false },
);

async function mustExist(pool: Pool, id: string) {
  const c = await loadCustomer(pool, id);
  if (!c) throw new AppError('NOT_FOUND', `customer ${id} not found`, [{ field: 'params.id', reason: 'unknown customer' }]);
  return c;
}

/** Customer look-up, the unified timeline, and manual merges. */
export const customerRoutes: FastifyPluginAsync<CustomerRouteDeps> = async (app, deps) => {
  const { pool } = deps;

  app.get<{ Querystring: { identity: string } }>(
    '/v1/customers',
    {
      schema: {
        description: 'Look a customer up by any identity; answers the top-level customer it belongs to.',
        querystring: Type.Object({ identity: Type.String({ minLength: 3, maxLength: 400, description: 'channel:address, e.g. whatsapp:34600112233' }) }),
        response: { 200: CustomerView, '4xx': ErrorRef },
      },
    },
    async (req) => {
      const identity = parseIdentityKey(req.query.identity, CHANNELS);
      if (!identity) throw badField('querystring.identity', `must be channel:address with channel one of ${CHANNELS.join(', ')}`);
      const r = await pool.query<{ root: string }>(
        'SELECT history.root_customer(customer_id) AS root FROM history.identities WHERE channel = $1::text AND address = $2::text',
        [identity.channel, identity.address],
      );
      const customer = r.rows[0] && (await loadCustomer(pool, r.rows[0].root));
      if (!customer) throw new AppError('NOT_FOUND', `no customer with identity ${identityKey(identity)}`, [{ field: 'querystring.identity', reason: 'unknown identity' }]);
      return customer;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/customers/:id',
    { schema: { params: IdParams, response: { 200: CustomerView, '4xx': ErrorRef } } },
    async (req) => mustExist(pool, req.params.id),
  );

  app.get<{ Params: { id: string }; Querystring: TimelineQueryT }>(
    '/v1/customers/:id/timeline',
    {
      schema: {
        description: "The customer's events in order across channels (including customers merged into it), with filters and a cursor.",
        params: IdParams,
        querystring: TimelineQuery,
        response: { 200: Type.Object({ items: Type.Array(TimelineItem), nextCursor: Type.Union([Type.String(), Type.Null()]) }), '4xx': ErrorRef },
      },
    },
    async (req) => {
      const q = req.query;
      const after = q.cursor === undefined ? null : decodeCursor(q.cursor);
      if (q.cursor !== undefined && !after) throw badField('querystring.cursor', 'not a cursor returned by this API');
      if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to)) throw badField('querystring.to', 'must be after from');
      await mustExist(pool, req.params.id);
      const page = await readTimeline(pool, {
        customers: await subtreeOf(pool, req.params.id),
        ...(q.channel ? { channel: q.channel } : {}),
        ...(q.conversation ? { conversationId: q.conversation } : {}),
        ...(q.from ? { from: q.from } : {}),
        ...(q.to ? { to: q.to } : {}),
        after,
        limit: q.limit,
      });
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/customers/:id/merges',
    { schema: { params: IdParams, response: { 200: Type.Object({ items: Type.Array(MergeView) }), '4xx': ErrorRef } } },
    async (req) => {
      await mustExist(pool, req.params.id);
      return { items: await mergesOf(pool, req.params.id) };
    },
  );

  app.post<{ Params: { id: string }; Body: { from: string; reason: string; actor: string } }>(
    '/v1/customers/:id/merge',
    {
      schema: {
        description: 'Merge customer `from` into this one (reversible: POST /v1/merges/:mergeId/unmerge).',
        params: IdParams,
        body: MergeBody,
        response: { 201: Type.Object({ merge: MergeView, customer: CustomerView }), '4xx': ErrorRef },
      },
    },
    async (req, reply) => {
      const merge = await mergeByRequest(pool, deps.customersTopic, { targetId: req.params.id, ...req.body });
      deps.relay?.kick();
      return reply.status(201).send({ merge, customer: await loadCustomer(pool, req.params.id) });
    },
  );
};
