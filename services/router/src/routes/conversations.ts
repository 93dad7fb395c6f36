import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@omni/service';
import { NO_NUL } from './auth';
import { getConversationView, queueDepths } from '../store/agent-profiles';
import { listDecisions, readQueueEntry } from '../store/offer-decisions';
import { loadConversation, type QueueAgeing } from '../store/conversations';
import { liveEstimate } from '../store/wait-estimates';
import { waitingOf } from '../domain/match';

const Conversation = Type.Object(
  {
    id: Type.String(),
    threadKey: Type.String(),
    channel: Type.String(),
    status: Type.String(),
    tier: Type.Integer(),
    category: Type.String(),
    priority: Type.Integer(),
    agentId: Type.Union([Type.String(), Type.Null()]),
    openedAt: Type.String(),
    /** while queued: live position and estimated wait (null estimate: nobody who could take it is online) */
    wait: Type.Union([
      Type.Object({ position: Type.Integer(), estimateMs: Type.Union([Type.Integer(), Type.Null()]), slots: Type.Integer(), busy: Type.Integer(), meanHandleMs: Type.Integer() }),
      Type.Null(),
    ]),
    /** the decision record of each offer, newest first (docs/queue-intelligence.md) */
    decisions: Type.Array(Type.Unknown()),
  },
  { $id: 'RouterConversation' },
);
const QueueDepth = Type.Object({
  tiers: Type.Array(
    Type.Object({
      tier: Type.Integer(),
      waiting: Type.Integer(),
      oldestWaitingSince: Type.Union([Type.String(), Type.Null()]),
      slaBreached: Type.Integer({ description: 'waiting past the tier\'s queue SLA (QUEUE_SLA_MS_TIER_n)' }),
      slaAtRisk: Type.Integer({ description: 'waiting, in the last fifth of the SLA window' }),
      offersPending: Type.Integer({ description: 'offered to an agent, not yet accepted or rejected' }),
    }),
  ),
});

async function waitOf(pool: Pool, id: string, ageing: QueueAgeing | undefined) {
  const conv = await loadConversation(pool, id, { lock: false });
  if (!conv) return null;
  conv.queue = await readQueueEntry(pool, id);
  return conv.queue ? liveEstimate(pool, { ...waitingOf(conv), tier: conv.tier }, { at: new Date(), ageing }) : null;
}

/** Read-only views of routing state for supervisors, admins and dashboards (service scope queues:read). */
export const conversationRoutes: FastifyPluginAsync<{ pool: Pool; ageing?: QueueAgeing | undefined }> = async (app, { pool, ageing }) => {
  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id',
    {
      config: { auth: { roles: ['supervisor', 'service'], scopes: ['conversations:read'] } },
      schema: { params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL }) }), response: { 200: Conversation, '4xx': { $ref: 'ErrorBody#' } } },
    },
    async (req) => {
      const r = await getConversationView(pool, req.params.id);
      if (!r) throw new AppError('NOT_FOUND', `conversation ${req.params.id} not found`);
      return {
        id: r.id,
        threadKey: r.thread_key,
        channel: r.channel,
        status: r.status,
        tier: r.tier,
        category: r.category,
        priority: r.priority,
        agentId: r.agent_id,
        openedAt: r.opened_at.toISOString(),
        wait: await waitOf(pool, r.id, ageing),
        decisions: await listDecisions(pool, r.id),
      } satisfies Static<typeof Conversation>;
    },
  );
  app.get('/v1/queues', { config: { auth: { roles: ['supervisor', 'service'], scopes: ['queues:read'] } }, schema: { response: { 200: QueueDepth, '4xx': { $ref: 'ErrorBody#' } } } }, async () => {
    return {
      tiers: (await queueDepths(pool)).map((r) => ({
        tier: r.tier,
        waiting: r.waiting,
        oldestWaitingSince: r.oldest?.toISOString() ?? null,
        slaBreached: r.slaBreached,
        slaAtRisk: r.slaAtRisk,
        offersPending: r.offersPending,
      })),
    };
  });
};
