import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { originOf, principalOf, recordAudit } from '@omni/auth';
import { AppError, type ErrorCode } from '@omni/service';
import { AgentActionError, setPresence, transfer } from '../routing/agent-commands';
import { loadConversation } from '../store/conversations';
import { getAgent, openWorkByAgent } from '../store/agent-profiles';
import { awayReasons } from '../store/presence-reasons';
import type { RouterCtx } from '../store/routing-tx';
import { NO_NUL } from './auth';

const STATUS_OF: Record<string, ErrorCode> = {
  NOT_FOUND: 'NOT_FOUND',
  NOT_ASSIGNED: 'CONFLICT',
  NOT_OFFERED: 'CONFLICT',
  AGENT_UNAVAILABLE: 'CONFLICT',
  HANDOFF_NOTE_REQUIRED: 'VALIDATION',
  BAD_FRAME: 'VALIDATION',
  INVALID_TIER: 'VALIDATION',
};
function mapActionError(err: unknown): never {
  if (err instanceof AgentActionError) throw new AppError(STATUS_OF[err.code] ?? 'CONFLICT', err.message);
  throw err;
}

const AgentParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' }) });
const PresenceBody = Type.Object({ status: Type.Union([Type.Literal('online'), Type.Literal('away'), Type.Literal('offline')]), reason: Type.Optional(Type.String({ maxLength: 500, pattern: NO_NUL })) }, { additionalProperties: false });
const TransferBody = Type.Object(
  {
    toAgentId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL })),
    toTier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
    note: Type.Optional(Type.String({ maxLength: 10_000, pattern: NO_NUL, description: 'handoff note; required to move up a tier' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

const AgentWork = Type.Object({
  agents: Type.Array(
    Type.Object({
      agentId: Type.String(),
      presence: Type.Optional(Type.String()),
      /** the admin-configured reason of an away agent (break, training…) */
      awayReason: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      conversations: Type.Array(
        Type.Object({ id: Type.String(), status: Type.String(), channel: Type.String(), tier: Type.Integer(), category: Type.String(), openedAt: Type.String() }),
      ),
    }),
  ),
});

/** Supervisors (and admins) steer live work: force an agent's presence, move an assigned conversation. Both audited. */
export const supervisionRoutes: FastifyPluginAsync<{ ctx: RouterCtx }> = async (app, { ctx }) => {
  const supervisor = { auth: { roles: ['supervisor'] } } as const;

  app.put<{ Params: Static<typeof AgentParams>; Body: Static<typeof PresenceBody> }>(
    '/v1/agents/:id/presence',
    {
      config: supervisor,
      schema: { summary: 'Set an agent\'s presence (offline returns their work to the queue)', params: AgentParams, body: PresenceBody, response: { 200: Type.Object({ agentId: Type.String(), presence: Type.String() }), '4xx': { $ref: 'ErrorBody#' } } },
    },
    async (req) => {
      const before = await getAgent(ctx.pool, req.params.id);
      if (!before) throw new AppError('NOT_FOUND', `agent ${req.params.id} not found`);
      const p = principalOf(req);
      await setPresence(ctx, req.params.id, req.body.status, { actor: { type: 'admin', id: p.sub }, note: req.body.reason ?? `set by ${p.role} ${p.sub}` }).catch(mapActionError);
      await recordAudit(ctx.pool, 'router', {
        actor: principalOf(req),
        action: 'agent.presence-force',
        target: { type: 'agent', id: req.params.id },
        before: { presence: before.presence },
        after: { presence: req.body.status, ...(req.body.reason ? { reason: req.body.reason } : {}) },
        origin: originOf(req),
      });
      ctx.kickMatcher();
      return { agentId: req.params.id, presence: req.body.status };
    },
  );

  app.get(
    '/v1/agents/work',
    {
      config: { auth: { roles: ['supervisor', 'service'], scopes: ['queues:read'] } },
      schema: { summary: "Each agent's current conversations (offered or assigned), for the wallboard", response: { 200: AgentWork, '4xx': { $ref: 'ErrorBody#' } } },
    },
    async () => {
      const byAgent = new Map<string, Static<typeof AgentWork>['agents'][number]>();
      for (const w of await openWorkByAgent(ctx.pool)) {
        const entry = byAgent.get(w.agentId) ?? { agentId: w.agentId, conversations: [] };
        entry.conversations.push({ id: w.conversationId, status: w.status, channel: w.channel, tier: w.tier, category: w.category, openedAt: w.openedAt.toISOString() });
        byAgent.set(w.agentId, entry);
      }
      // presence and away reason of each listed agent, and every away agent that gave a reason (the wallboard shows it)
      for (const [agentId, p] of await awayReasons(ctx.pool)) {
        const entry = byAgent.get(agentId) ?? (p.awayReason ? { agentId, conversations: [] } : undefined);
        if (!entry) continue;
        byAgent.set(agentId, { ...entry, presence: p.presence, awayReason: p.awayReason });
      }
      return { agents: [...byAgent.values()] };
    },
  );

  app.post<{ Params: { id: string }; Body: Static<typeof TransferBody> }>(
    '/v1/conversations/:id/transfer',
    {
      config: supervisor,
      schema: {
        summary: 'Move an assigned conversation to another agent or tier (as its assignee would)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL }) }),
        body: TransferBody,
        response: { 200: Type.Object({ conversationId: Type.String(), fromAgentId: Type.String() }), '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req) => {
      const conv = await loadConversation(ctx.pool, req.params.id, { lock: false });
      if (!conv) throw new AppError('NOT_FOUND', `conversation ${req.params.id} not found`);
      if (conv.status !== 'assigned' || !conv.agentId) throw new AppError('CONFLICT', `conversation ${req.params.id} is ${conv.status}, not assigned: only assigned work can be moved`);
      const to = { ...(req.body.toAgentId ? { agentId: req.body.toAgentId } : {}), ...(req.body.toTier ? { tier: req.body.toTier } : {}) };
      await transfer(ctx, conv.agentId, req.params.id, to, req.body.note).catch(mapActionError);
      await recordAudit(ctx.pool, 'router', {
        actor: principalOf(req),
        action: 'conversation.transfer',
        target: { type: 'conversation', id: req.params.id },
        before: { agentId: conv.agentId, tier: conv.tier },
        after: to,
        origin: originOf(req),
      });
      ctx.kickMatcher();
      return { conversationId: req.params.id, fromAgentId: conv.agentId };
    },
  );
};
