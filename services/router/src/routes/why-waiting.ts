import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@omni/service';
import { whyWaiting } from '../domain/decision-record';
import { stepAt } from '../domain/preference';
import { wideningOf } from '../store/widening';
import { waitingOf } from '../domain/match';
import { loadConversation } from '../store/conversations';
import { loadAgentViews } from '../store/agents';
import { readQueueEntry } from '../store/offer-decisions';
import { NO_NUL } from './auth';

const WhyWaiting = Type.Object(
  {
    conversationId: Type.String(),
    status: Type.String(),
    /** agents who could take it right now */
    eligible: Type.Array(Type.String()),
    blocking: Type.Array(Type.Object({ code: Type.String(), reason: Type.String(), count: Type.Integer(), agents: Type.Array(Type.String()) })),
    summary: Type.String(),
  },
  { $id: 'WhyWaiting' },
);

/** "Why is nobody getting this?" for a waiting conversation (docs/queue-intelligence.md). */
export const whyWaitingRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id/why-waiting',
    {
      config: { auth: { roles: ['supervisor', 'service'], scopes: ['conversations:read'] } },
      schema: {
        summary: 'The reasons no agent is taking a waiting conversation, grouped across all agents',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL }) }),
        response: { 200: WhyWaiting, '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req) => {
      const conv = await loadConversation(pool, req.params.id, { lock: false });
      if (!conv) throw new AppError('NOT_FOUND', `conversation ${req.params.id} not found`);
      conv.queue = await readQueueEntry(pool, conv.id);
      if (!conv.queue) return { conversationId: conv.id, status: conv.status, eligible: [], blocking: [], summary: `not waiting: ${conv.status}` } satisfies Static<typeof WhyWaiting>;
      // at the widening step in force now
      const step = stepAt((await wideningOf(pool, [conv.id])).get(conv.id), Date.now() - conv.queue.waitingSince.getTime());
      const w = whyWaiting(await loadAgentViews(pool), waitingOf(conv), step.step);
      return { ...w, status: conv.status } satisfies Static<typeof WhyWaiting>;
    },
  );
};
