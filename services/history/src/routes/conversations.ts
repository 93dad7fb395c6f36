import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { AppError } from '@omni/service';
import { loadConversation } from '../store/conversations';
import { recordCsat } from '../store/csat';
import { conversationRows } from '../store/timeline';
import { ErrorRef, IdParams, TimelineItem } from './schemas';

const NullableStr = Type.Union([Type.String(), Type.Null()]);
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);

const Transcript = Type.Object({
  conversation: Type.Object({
    id: Type.String(),
    customerId: Type.String({ description: 'the top-level customer (after merges)' }),
    channel: Type.String(),
    status: Type.String(),
    category: NullableStr,
    firstTier: NullableInt,
    tier: NullableInt,
    tierPath: Type.Array(Type.Integer()),
    agents: Type.Array(Type.String()),
    openedAt: NullableStr,
    firstResponseAt: NullableStr,
    resolvedAt: NullableStr,
    escalations: Type.Array(
      Type.Object({
        kind: Type.String(),
        fromTier: NullableInt,
        toTier: Type.Integer(),
        at: Type.String(),
        agentId: NullableStr,
        handoffNote: NullableStr,
        reason: NullableStr,
      }),
    ),
    csat: Type.Union([Type.Object({ score: Type.Integer(), comment: NullableStr, at: Type.String() }), Type.Null()]),
  }),
  messages: Type.Array(
    Type.Object({
      direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
      eventId: Type.String(),
      at: Type.String(),
      channel: Type.String(),
      text: Type.String(),
      subject: Type.Optional(Type.String()),
      agentId: NullableStr,
      from: Type.Optional(Type.String()),
    }),
  ),
  events: Type.Array(TimelineItem),
});

/** Conversation transcripts and CSAT. */
export const conversationRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id',
    {
      schema: {
        description: 'Transcript: messages in both directions in order, the tier path, handoff notes, agents, status and every event.',
        params: IdParams,
        response: { 200: Transcript, '4xx': ErrorRef },
      },
    },
    async (req) => {
      const c = await loadConversation(pool, req.params.id);
      if (!c) throw new AppError('NOT_FOUND', `conversation ${req.params.id} not found`, [{ field: 'params.id', reason: 'unknown conversation' }]);
      const rows = await conversationRows(pool, c.id, c.messageIds);
      const messages = rows
        .filter((r) => r.kind === 'message.inbound' || r.kind === 'message.outbound')
        .map((r) => {
          const p = r.payload as { text?: string; subject?: string; from?: { address?: string } };
          return {
            direction: r.kind === 'message.inbound' ? ('inbound' as const) : ('outbound' as const),
            eventId: r.eventId,
            at: r.occurredAt,
            channel: r.channel,
            text: p.text ?? '',
            ...(p.subject ? { subject: p.subject } : {}),
            agentId: r.agentId,
            ...(p.from?.address ? { from: p.from.address } : {}),
          };
        });
      return {
        conversation: {
          id: c.id,
          customerId: c.rootCustomerId,
          channel: c.channel,
          status: c.status,
          category: c.category,
          firstTier: c.firstTier,
          tier: c.tier,
          tierPath: c.tierPath,
          agents: c.agents,
          openedAt: c.openedAt,
          firstResponseAt: c.firstResponseAt,
          resolvedAt: c.resolvedAt,
          escalations: c.escalations,
          csat: c.csatScore !== null && c.csatAt ? { score: c.csatScore, comment: c.csatComment, at: c.csatAt } : null,
        },
        messages,
        events: rows.filter((r) => r.kind !== 'message.inbound' && r.kind !== 'message.outbound'),
      };
    },
  );

  app.post<{ Params: { id: string }; Body: { score: number; comment?: string } }>(
    '/v1/conversations/:id/csat',
    {
      schema: {
        description: 'Customer satisfaction (1–5) for a resolved conversation; once per conversation.',
        params: IdParams,
        body: Type.Object(
          { score: Type.Integer({ minimum: 1, maximum: 5 }), comment: Type.Optional(Type.String({ maxLength: 2000 })) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ conversationId: Type.String(), eventId: Type.String(), score: Type.Integer(), comment: NullableStr, submittedAt: Type.String() }),
          '4xx': ErrorRef,
        },
      },
    },
    async (req, reply) => reply.status(201).send(await recordCsat(pool, req.params.id, req.body.score, req.body.comment)),
  );
};
