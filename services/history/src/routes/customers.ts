import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { AppError, badField } from '@omni/service';

const Identity = Type.Object({ channel: Type.String(), address: Type.String(), linkedReason: Type.String() });
const Customer = Type.Object({ id: Type.String(), displayName: Type.Union([Type.String(), Type.Null()]), identities: Type.Array(Identity) }, { $id: 'Customer' });
const TimelineItem = Type.Object({
  eventId: Type.String(),
  occurredAt: Type.String(),
  kind: Type.String(),
  channel: Type.String(),
  conversationId: Type.Union([Type.String(), Type.Null()]),
  tier: Type.Union([Type.Integer(), Type.Null()]),
  agentId: Type.Union([Type.String(), Type.Null()]),
  payload: Type.Record(Type.String(), Type.Unknown()),
});
const TimelinePage = Type.Object({ items: Type.Array(TimelineItem), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { $id: 'TimelinePage' });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

async function loadCustomer(pool: Pool, id: string) {
  const c = await pool.query<{ id: string; display_name: string | null }>('SELECT id, display_name FROM history.customers WHERE id = $1::text', [id]);
  if (!c.rows[0]) return null;
  const ids = await pool.query<{ channel: string; address: string; linked_reason: string }>(
    'SELECT channel, address, linked_reason FROM history.identities WHERE customer_id = $1::text ORDER BY created_at, channel, address',
    [id],
  );
  return { id: c.rows[0].id, displayName: c.rows[0].display_name, identities: ids.rows.map((r) => ({ channel: r.channel, address: r.address, linkedReason: r.linked_reason })) };
}

/** The cursor is the position (occurred_at, seq) of the last item returned, opaque to clients. */
function decodeCursor(cursor: string): { at: string; seq: string } {
  try {
    const [at, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (typeof at !== 'string' || !/^\d+$/.test(String(seq)) || Number.isNaN(Date.parse(at))) throw new Error('shape');
    return { at, seq: String(seq) };
  } catch {
    throw badField('querystring.cursor', 'not a cursor returned by this API');
  }
}

/** Customer look-up and the unified timeline. */
export const customerRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.get<{ Querystring: { identity: string } }>(
    '/v1/customers',
    {
      schema: {
        querystring: Type.Object({ identity: Type.String({ minLength: 3, maxLength: 400, description: 'channel:address, e.g. chat:visitor-42' }) }),
        response: { 200: Customer, '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req) => {
      const i = req.query.identity.indexOf(':');
      if (i <= 0) throw badField('querystring.identity', 'must be channel:address');
      const r = await pool.query<{ customer_id: string }>('SELECT customer_id FROM history.identities WHERE channel = $1::text AND address = $2::text', [
        req.query.identity.slice(0, i),
        req.query.identity.slice(i + 1),
      ]);
      const customer = r.rows[0] && (await loadCustomer(pool, r.rows[0].customer_id));
      if (!customer) throw new AppError('NOT_FOUND', `no customer with identity ${req.query.identity}`);
      return customer;
    },
  );
  app.get<{ Params: { id: string } }>('/v1/customers/:id', { schema: { params: IdParams, response: { 200: Customer, 404: { $ref: 'ErrorBody#' } } } }, async (req) => {
    const customer = await loadCustomer(pool, req.params.id);
    if (!customer) throw new AppError('NOT_FOUND', `customer ${req.params.id} not found`);
    return customer;
  });
  app.get<{ Params: { id: string }; Querystring: { cursor?: string; limit: number } }>(
    '/v1/customers/:id/timeline',
    {
      schema: {
        params: IdParams,
        querystring: Type.Object({ cursor: Type.Optional(Type.String({ maxLength: 200 })), limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }),
        response: { 200: TimelinePage, '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req) => {
      const exists = await pool.query('SELECT 1 FROM history.customers WHERE id = $1::text', [req.params.id]);
      if (exists.rowCount === 0) throw new AppError('NOT_FOUND', `customer ${req.params.id} not found`);
      const after = req.query.cursor ? decodeCursor(req.query.cursor) : null;
      const { rows } = await pool.query(
        `SELECT seq, event_id, occurred_at, kind, channel, conversation_id, tier, agent_id, payload
           FROM history.timeline
          WHERE customer_id = $1::text
            AND ($2::timestamptz IS NULL OR (occurred_at, seq) > ($2::timestamptz, $3::bigint))
          ORDER BY occurred_at, seq
          LIMIT $4::int`,
        [req.params.id, after?.at ?? null, after?.seq ?? null, req.query.limit + 1],
      );
      const page = rows.slice(0, req.query.limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => ({
          eventId: r.event_id,
          occurredAt: r.occurred_at.toISOString(),
          kind: r.kind,
          channel: r.channel,
          conversationId: r.conversation_id,
          tier: r.tier,
          agentId: r.agent_id,
          payload: r.payload,
        })),
        nextCursor: rows.length > req.query.limit && last ? Buffer.from(JSON.stringify([last.occurred_at.toISOString(), String(last.seq)])).toString('base64url') : null,
      };
    },
  );
};
