import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { CHANNELS } from '@omni/contracts';
import type { OutboxRelay } from '@omni/kafka';
import { originOf, principalOf, recordAudit, type Principal } from '@omni/auth';
import { AppError, badField } from '@omni/service';
import { agentServedCustomer, isScoped } from '../store/access';
import { identityKey, parseIdentityKey } from '../domain/identity';
import { loadCustomer, subtreeOf } from '../store/customers';
import { mergeByRequest, mergesOf } from '../store/merges';
import { readTimeline } from '../store/timeline';
import { ChannelParam, CustomerView, NO_NUL, decodeCursor, encodeCursor, ErrorRef, IdParams, MergeView, redactItem, TimelineItem } from './schemas';

export interface CustomerRouteDeps {
  pool: Pool;
  customersTopic: string;
  relay?: Pick<OutboxRelay, 'kick'>;
}

const TimelineQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 200, pattern: NO_NUL })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  channel: Type.Optional(ChannelParam),
  conversation: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive' })),
});
type TimelineQueryT = { cursor?: string; limit: number; channel?: string; conversation?: string; from?: string; to?: string };

const MergeBody = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL, description: 'the customer merged into the one in the path' }),
    reason: Type.String({ minLength: 1, maxLength: 2000, pattern: NO_NUL }),
    actor: Type.Optional(Type.String({ maxLength: 128, description: 'ignored: the merge is recorded as made by the signed-in caller (role:subject)' })),
  },
  { additionalProperties: false },
);

/** The customer, or 404 — also when the caller is an agent who never served them (indistinguishable from missing). */
async function mustExist(pool: Pool, id: string, who: Principal) {
  const c = await loadCustomer(pool, id);
  if (!c || (isScoped(who) && !(await agentServedCustomer(pool, who.sub, id))))
    throw new AppError('NOT_FOUND', `customer ${id} not found`, [{ field: 'params.id', reason: 'unknown customer' }]);
  return c;
}

/** Who may read customers: supervisors, agents (their own customers only), services with customers:read. */
const readers = { auth: { roles: ['supervisor', 'agent', 'service'], scopes: ['customers:read'] } } as const;
/** Merging and unmerging: supervisors and admins (audited). */
export const mergers = { auth: { roles: ['supervisor'] } } as const;

/** How a person is named on the records they change. */
export const actorName = (p: Principal) => `${p.role}:${p.sub}`;

/** Customer look-up, the unified timeline, and manual merges. */
export const customerRoutes: FastifyPluginAsync<CustomerRouteDeps> = async (app, deps) => {
  const { pool } = deps;

  app.get<{ Querystring: { identity: string } }>(
    '/v1/customers',
    {
      config: readers,
      schema: {
        description: 'Look a customer up by any identity; answers the top-level customer it belongs to.',
        querystring: Type.Object({ identity: Type.String({ minLength: 3, maxLength: 400, pattern: NO_NUL, description: 'channel:address, e.g. whatsapp:34600112233' }) }),
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
      const who = principalOf(req);
      const root = r.rows[0]?.root;
      const customer = root && (!isScoped(who) || (await agentServedCustomer(pool, who.sub, root))) ? await loadCustomer(pool, root) : null;
      if (!customer) throw new AppError('NOT_FOUND', `no customer with identity ${identityKey(identity)}`, [{ field: 'querystring.identity', reason: 'unknown identity' }]);
      return customer;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/customers/:id',
    { config: readers, schema: { params: IdParams, response: { 200: CustomerView, '4xx': ErrorRef } } },
    async (req) => mustExist(pool, req.params.id, principalOf(req)),
  );

  app.get<{ Params: { id: string }; Querystring: TimelineQueryT }>(
    '/v1/customers/:id/timeline',
    {
      config: readers,
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
      await mustExist(pool, req.params.id, principalOf(req));
      const page = await readTimeline(pool, {
        customers: await subtreeOf(pool, req.params.id),
        ...(q.channel ? { channel: q.channel } : {}),
        ...(q.conversation ? { conversationId: q.conversation } : {}),
        ...(q.from ? { from: q.from } : {}),
        ...(q.to ? { to: q.to } : {}),
        after,
        limit: q.limit,
      });
      return { items: page.items.map(redactItem), nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/customers/:id/merges',
    { config: readers, schema: { params: IdParams, response: { 200: Type.Object({ items: Type.Array(MergeView) }), '4xx': ErrorRef } } },
    async (req) => {
      await mustExist(pool, req.params.id, principalOf(req));
      return { items: await mergesOf(pool, req.params.id) };
    },
  );

  app.post<{ Params: { id: string }; Body: { from: string; reason: string; actor?: string } }>(
    '/v1/customers/:id/merge',
    {
      config: mergers,
      schema: {
        description: 'Merge customer `from` into this one (reversible: POST /v1/merges/:mergeId/unmerge).',
        params: IdParams,
        body: MergeBody,
        response: { 201: Type.Object({ merge: MergeView, customer: CustomerView }), '4xx': ErrorRef },
      },
    },
    async (req, reply) => {
      const who = principalOf(req);
      const merge = await mergeByRequest(pool, deps.customersTopic, { targetId: req.params.id, from: req.body.from, reason: req.body.reason, actor: actorName(who) });
      deps.relay?.kick();
      await recordAudit(pool, 'history', {
        actor: who,
        action: 'customer.merge',
        target: { type: 'customer', id: req.params.id },
        before: { source: { id: req.body.from, mergedInto: null } },
        // ids only: free text (the reason) may name the person, and the trail cannot be erased
        after: { mergeId: merge.id, source: { id: merge.sourceId, mergedInto: merge.targetId } },
        origin: originOf(req),
      });
      return reply.status(201).send({ merge, customer: await loadCustomer(pool, req.params.id) });
    },
  );
};
