import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS } from '@omni/contracts';
import { AppError } from '@omni/service';
import { originOf, principalOf, recordAudit } from '@omni/auth';

const Tier = Type.Integer({ minimum: 1, maximum: 5 });
const AgentProfile = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    tiers: Type.Array(Tier, { minItems: 1, maxItems: 5, uniqueItems: true }),
    skills: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50, default: [] }),
    languages: Type.Array(Type.String({ minLength: 2, maxLength: 16 }), { maxItems: 20, default: [] }),
    /** concurrent conversations per channel, e.g. {"chat":3,"email":5,"phone":1} */
    capacity: Type.Object(Object.fromEntries(CHANNELS.map((c) => [c, Type.Optional(Type.Integer({ minimum: 0, maximum: 100 }))])), {
      additionalProperties: false,
      minProperties: 1,
    }),
  },
  { $id: 'AgentProfile', additionalProperties: false },
);
type AgentProfile = Static<typeof AgentProfile>;

const Agent = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    tiers: Type.Array(Type.Integer()),
    skills: Type.Array(Type.String()),
    languages: Type.Array(Type.String()),
    capacity: Type.Record(Type.String(), Type.Integer()),
    presence: Type.String(),
    connected: Type.Boolean(),
    load: Type.Record(Type.String(), Type.Integer()),
  },
  { $id: 'RouterAgent' },
);
const AgentId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' }) });

const SELECT_AGENTS = `SELECT a.id, a.name, a.tiers, a.skills, a.languages, a.capacity, a.presence, a.session_id IS NOT NULL AS connected,
  COALESCE((SELECT jsonb_object_agg(channel, n) FROM (SELECT c.channel, count(*)::int AS n FROM router.conversations c
    WHERE c.agent_id = a.id AND c.status IN ('offered', 'assigned') GROUP BY c.channel) x), '{}'::jsonb) AS load
  FROM router.agents a`;

/** Agents: admins create or update a profile (tiers, skills, languages, capacity, audited); supervisors list and read. */
export const adminAgentRoutes: FastifyPluginAsync<{ pool: Pool; onChange: () => void }> = async (app, { pool, onChange }) => {
  app.put<{ Params: Static<typeof AgentId>; Body: AgentProfile }>(
    '/v1/admin/agents/:id',
    {
      config: { auth: { roles: [] } },
      schema: {
        summary: 'Create or replace an agent profile (admins)',
       
        params: AgentId,
        body: AgentProfile,
        response: { 200: Agent, 201: Agent, '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const before = (await pool.query(`${SELECT_AGENTS} WHERE a.id = $1::text`, [req.params.id])).rows[0];
      const { rows } = await pool.query<{ inserted: boolean }>(
        `INSERT INTO router.agents (id, name, tiers, skills, languages, capacity)
         VALUES ($1::text, $2::text, $3::int[], $4::text[], $5::text[], $6::jsonb)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, tiers = EXCLUDED.tiers, skills = EXCLUDED.skills,
           languages = EXCLUDED.languages, capacity = EXCLUDED.capacity, updated_at = now()
         RETURNING (xmax = 0) AS inserted`,
        [req.params.id, b.name, b.tiers, b.skills, b.languages.map((l) => l.toLowerCase()), JSON.stringify(b.capacity)],
      );
      // More capacity or a new tier may let waiting conversations through right away.
      onChange();
      const agent = (await pool.query(`${SELECT_AGENTS} WHERE a.id = $1::text`, [req.params.id])).rows[0];
      const profile = (a: Record<string, unknown> | undefined) => a && { name: a.name, tiers: a.tiers, skills: a.skills, languages: a.languages, capacity: a.capacity };
      await recordAudit(pool, 'router', { actor: principalOf(req), action: before ? 'agent.update' : 'agent.create', target: { type: 'agent', id: req.params.id }, before: profile(before) ?? null, after: profile(agent), origin: originOf(req) });
      return reply.status(rows[0]!.inserted ? 201 : 200).send(agent);
    },
  );

  app.get('/v1/admin/agents', { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'List agents with presence and load', response: { 200: Type.Object({ agents: Type.Array(Agent) }) } } }, async () => {
    const { rows } = await pool.query(`${SELECT_AGENTS} ORDER BY a.id`);
    return { agents: rows };
  });

  app.get<{ Params: Static<typeof AgentId> }>(
    '/v1/admin/agents/:id',
    { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'One agent', params: AgentId, response: { 200: Agent, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req) => {
      const { rows } = await pool.query(`${SELECT_AGENTS} WHERE a.id = $1::text`, [req.params.id]);
      if (!rows[0]) throw new AppError('NOT_FOUND', `agent ${req.params.id} not found`);
      return rows[0];
    },
  );
};
