import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import type { TopicNames } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS } from '@omni/contracts';
import { AppError } from '@omni/service';
import { originOf, principalOf, recordAudit } from '@omni/auth';
import { getAgent, listAgents, upsertAgentProfile } from '../store/agent-profiles';
import { recordProfileVersion } from '../store/replay-recordings';
import { Proficiency } from '../domain/preference';

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
    /** levels 1–5 per skill and language, e.g. {"skills":{"billing":5},"languages":{"es":4}} (docs/queue-intelligence.md) */
    proficiency: Type.Optional(Proficiency),
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
    proficiency: Type.Optional(Proficiency),
    presence: Type.String(),
    /** the admin-configured reason an away agent gave (break, training…) */
    awayReason: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    connected: Type.Boolean(),
    load: Type.Record(Type.String(), Type.Integer()),
  },
  { $id: 'RouterAgent' },
);
const AgentId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' }) });

/** Agents: admins create or update a profile (tiers, skills, languages, capacity, audited); supervisors list and read. */
export const adminAgentRoutes: FastifyPluginAsync<{ pool: Pool; onChange: () => void; topics: Pick<TopicNames, 'agents'>; onEvent?: () => void }> = async (app, { pool, onChange, topics, onEvent }) => {
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
      const p = { ...b, languages: b.languages.map((l) => l.toLowerCase()) };
      const actor = principalOf(req);
      const profile = (a: Record<string, unknown> | undefined) => a && { name: a.name, tiers: a.tiers, skills: a.skills, languages: a.languages, capacity: a.capacity };
      // the profile, its version in the history replay reads (with agent.profile-changed in the outbox) and the audit entry commit together
      const { inserted, agent, recorded } = await withTransaction(pool, async (c) => {
        const before = await getAgent(c, req.params.id);
        const inserted = await upsertAgentProfile(c, req.params.id, p);
        const recorded = await recordProfileVersion(c, topics, req.params.id, p, actor);
        const agent = await getAgent(c, req.params.id);
        await recordAudit(c, 'router', { actor, action: before ? 'agent.update' : 'agent.create', target: { type: 'agent', id: req.params.id }, before: profile(before) ?? null, after: profile(agent), origin: originOf(req) });
        return { inserted, agent, recorded };
      });
      if (recorded) onEvent?.();
      // More capacity or a new tier may let waiting conversations through right away.
      onChange();
      return reply.status(inserted ? 201 : 200).send(agent);
    },
  );

  app.get('/v1/admin/agents', { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'List agents with presence and load', response: { 200: Type.Object({ agents: Type.Array(Agent) }) } } }, async () => {
    return { agents: await listAgents(pool) };
  });

  app.get<{ Params: Static<typeof AgentId> }>(
    '/v1/admin/agents/:id',
    { config: { auth: { roles: ['supervisor'] } }, schema: { summary: 'One agent', params: AgentId, response: { 200: Agent, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req) => {
      const agent = await getAgent(pool, req.params.id);
      if (!agent) throw new AppError('NOT_FOUND', `agent ${req.params.id} not found`);
      return agent;
    },
  );
};
