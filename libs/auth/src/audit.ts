import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Pool, PoolClient } from 'pg';
import { Type } from '@sinclair/typebox';
import { badField } from '@omni/service';
import type { Principal } from './roles';

// The table itself (<schema>.audit_log, append-only by trigger) is created by each service's own
// migration: services/router/migrations/0007_accounts_audit.sql, services/history/migrations/0004_audit_access.sql.

function assertSchema(schema: string): void {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
}

/** Where a request came from, as recorded in the audit trail. */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export function originOf(req: FastifyRequest): RequestOrigin {
  const ua = req.headers['user-agent'];
  return { ip: req.ip ?? null, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null, requestId: String(req.id) };
}

export interface AuditEntry {
  /** who acted: a principal, or a bare subject (a failed sign-in names the username tried); null = anonymous */
  actor: Pick<Principal, 'sub' | 'role'> & { issuer?: Principal['issuer'] | 'cli' } | { sub: string; role?: undefined } | null;
  /** e.g. auth.sign-in, account.create, rules.replace, customer.merge, conversation.transfer */
  action: string;
  outcome?: 'ok' | 'denied' | 'failed';
  target?: { type: string; id: string };
  before?: unknown;
  after?: unknown;
  origin?: RequestOrigin;
}

type Queryable = Pick<Pool | PoolClient, 'query'>;

/** Appends one audit row (in the caller's transaction when given a client, so the action and its record commit together). */
export async function recordAudit(db: Queryable, schema: string, e: AuditEntry): Promise<void> {
  assertSchema(schema);
  await db.query(
    `INSERT INTO ${schema}.audit_log (actor_sub, actor_role, actor_issuer, action, outcome, target_type, target_id, before, after, origin_ip, user_agent, request_id)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::jsonb, $9::jsonb, $10::text, $11::text, $12::text)`,
    [
      e.actor?.sub ?? null,
      e.actor?.role ?? null,
      e.actor && 'issuer' in e.actor ? (e.actor.issuer ?? null) : null,
      e.action,
      e.outcome ?? 'ok',
      e.target?.type ?? null,
      e.target?.id ?? null,
      e.before === undefined ? null : JSON.stringify(e.before),
      e.after === undefined ? null : JSON.stringify(e.after),
      e.origin?.ip ?? null,
      e.origin?.userAgent ?? null,
      e.origin?.requestId ?? null,
    ],
  );
}

const AuditItem = Type.Object(
  {
    seq: Type.String({ description: 'position in this service\'s trail' }),
    at: Type.String(),
    actor: Type.Union([Type.Object({ sub: Type.String(), role: Type.Union([Type.String(), Type.Null()]), issuer: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
    action: Type.String(),
    outcome: Type.String(),
    target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
    before: Type.Unknown(),
    after: Type.Unknown(),
    origin: Type.Object({ ip: Type.Union([Type.String(), Type.Null()]), userAgent: Type.Union([Type.String(), Type.Null()]), requestId: Type.Union([Type.String(), Type.Null()]) }),
  },
  { $id: 'AuditItem' },
);

const AuditQuery = Type.Object({
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'exact action, or a prefix ending in "." (e.g. "auth.")' })),
  targetType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  outcome: Type.Optional(Type.Union([Type.Literal('ok'), Type.Literal('denied'), Type.Literal('failed')])),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', description: 'nextCursor of the previous page' })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
});
interface AuditQueryT {
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  outcome?: string;
  from?: string;
  to?: string;
  cursor?: string;
  limit: number;
}

/** `GET /v1/audit` (admins): this service's audit trail, newest first, with filters and a cursor. */
export function registerAuditRoute(app: FastifyInstance, pool: Pool, schema: string): void {
  assertSchema(schema);
  app.get<{ Querystring: AuditQueryT }>(
    '/v1/audit',
    {
      config: { auth: { roles: ['admin'] } },
      schema: {
        summary: 'The audit trail of human actions on this service (admins)',
        querystring: AuditQuery,
        response: { 200: Type.Object({ items: Type.Array(AuditItem), nextCursor: Type.Union([Type.String(), Type.Null()]) }), '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req) => {
      const q = req.query;
      if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to)) throw badField('querystring.to', 'must be after from');
      const action = q.action?.endsWith('.') ? { op: 'LIKE', v: `${q.action.replace(/[\\%_]/g, (c) => `\\${c}`)}%` } : q.action ? { op: '=', v: q.action } : null;
      const { rows } = await pool.query(
        `SELECT seq::text AS position, at, actor_sub, actor_role, actor_issuer, action, outcome, target_type, target_id, before, after, origin_ip, user_agent, request_id
           FROM ${schema}.audit_log
          WHERE ($1::text IS NULL OR actor_sub = $1::text)
            AND ($2::text IS NULL OR ($3::text = '=' AND action = $2::text) OR ($3::text = 'LIKE' AND action LIKE $2::text))
            AND ($4::text IS NULL OR target_type = $4::text)
            AND ($5::text IS NULL OR target_id = $5::text)
            AND ($6::text IS NULL OR outcome = $6::text)
            AND ($7::timestamptz IS NULL OR at >= $7::timestamptz)
            AND ($8::timestamptz IS NULL OR at < $8::timestamptz)
            AND ($9::bigint IS NULL OR seq < $9::bigint)
          ORDER BY seq DESC LIMIT $10::int`, // seq: the bigint column (the text output is named position so it does not shadow it)
        [q.actor ?? null, action?.v ?? null, action?.op ?? null, q.targetType ?? null, q.targetId ?? null, q.outcome ?? null, q.from ?? null, q.to ?? null, q.cursor ?? null, q.limit + 1],
      );
      const more = rows.length > q.limit;
      const page = rows.slice(0, q.limit);
      return {
        items: page.map((r) => ({
          seq: r.position,
          at: (r.at as Date).toISOString(),
          actor: r.actor_sub === null ? null : { sub: r.actor_sub, role: r.actor_role, issuer: r.actor_issuer },
          action: r.action,
          outcome: r.outcome,
          target: r.target_type === null ? null : { type: r.target_type, id: r.target_id ?? '' },
          before: r.before,
          after: r.after,
          origin: { ip: r.origin_ip, userAgent: r.user_agent, requestId: r.request_id },
        })),
        nextCursor: more ? page[page.length - 1]!.position : null,
      };
    },
  );
}
