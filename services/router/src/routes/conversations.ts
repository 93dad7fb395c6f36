import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@omni/service';
import { NO_NUL } from './auth';

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
  },
  { $id: 'RouterConversation' },
);
const QueueDepth = Type.Object({ tiers: Type.Array(Type.Object({ tier: Type.Integer(), waiting: Type.Integer(), oldestWaitingSince: Type.Union([Type.String(), Type.Null()]) })) });

/** Read-only views of routing state for supervisors, admins and dashboards (service scope queues:read). */
export const conversationRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id',
    {
      config: { auth: { roles: ['supervisor', 'service'], scopes: ['conversations:read'] } },
      schema: { params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL }) }), response: { 200: Conversation, '4xx': { $ref: 'ErrorBody#' } } },
    },
    async (req) => {
      const { rows } = await pool.query(
        `SELECT id, thread_key, channel, status, tier, category, priority, agent_id, opened_at FROM router.conversations WHERE id = $1::text`,
        [req.params.id],
      );
      const r = rows[0];
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
      } satisfies Static<typeof Conversation>;
    },
  );
  app.get('/v1/queues', { config: { auth: { roles: ['supervisor', 'service'], scopes: ['queues:read'] } }, schema: { response: { 200: QueueDepth, '4xx': { $ref: 'ErrorBody#' } } } }, async () => {
    const { rows } = await pool.query<{ tier: number; waiting: string; oldest: Date | null }>(
      `SELECT t.tier, count(q.conversation_id) AS waiting, min(q.waiting_since) AS oldest
         FROM generate_series(1, 5) AS t(tier) LEFT JOIN router.queue_entries q ON q.tier = t.tier
        GROUP BY t.tier ORDER BY t.tier`,
    );
    return { tiers: rows.map((r) => ({ tier: r.tier, waiting: Number(r.waiting), oldestWaitingSince: r.oldest?.toISOString() ?? null })) };
  });
};
