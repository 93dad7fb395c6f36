import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { csatKey as deriveCsatKey, principalOf, verifyCsatToken } from '@omni/auth';
import { AppError } from '@omni/service';
import { agentServedConversation, isScoped } from '../store/access';
import { loadConversation } from '../store/conversations';
import { recordCsat } from '../store/csat';
import { conversationRows } from '../store/timeline';
import { ErrorRef, IdParams, NO_NUL, redactItem, TimelineItem } from './schemas';

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

/**
 * Conversation transcripts (supervisors, agents who served it, services with conversations:read) and
 * CSAT (the customer, with the token issued on resolve).
 */
export const conversationRoutes: FastifyPluginAsync<{ pool: Pool; jwtSecret: string }> = async (app, { pool, jwtSecret }) => {
  const csatKey = deriveCsatKey(jwtSecret);
  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id',
    {
      config: { auth: { roles: ['supervisor', 'agent', 'service'], scopes: ['conversations:read'] } },
      schema: {
        description: 'Transcript: messages in both directions in order, the tier path, handoff notes, agents, status and every event.',
        params: IdParams,
        response: { 200: Transcript, '4xx': ErrorRef },
      },
    },
    async (req) => {
      const who = principalOf(req);
      const c = (!isScoped(who) || (await agentServedConversation(pool, who.sub, req.params.id))) && (await loadConversation(pool, req.params.id));
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
        events: rows.filter((r) => r.kind !== 'message.inbound' && r.kind !== 'message.outbound').map(redactItem),
      };
    },
  );

  app.post<{ Params: { id: string }; Body: { token: string; score: number; comment?: string } }>(
    '/v1/conversations/:id/csat',
    {
      // No staff token: the customer proves the right to answer with the signed token the router put on
      // conversation.resolved (expiring; single use because a conversation takes one answer).
      config: { auth: { public: 'customer CSAT: the csat token (issued on resolve) is the credential, checked by the route' } },
      schema: {
        description: 'Customer satisfaction (1–5) for a resolved conversation; once per conversation, with the token issued on resolve.',
        params: IdParams,
        body: Type.Object(
          {
            token: Type.String({ minLength: 1, maxLength: 2048, description: 'csatToken from the conversation.resolved event' }),
            score: Type.Integer({ minimum: 1, maximum: 5 }),
            comment: Type.Optional(Type.String({ maxLength: 2000, pattern: NO_NUL })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ conversationId: Type.String(), eventId: Type.String(), score: Type.Integer(), comment: NullableStr, submittedAt: Type.String() }),
          '4xx': ErrorRef,
        },
      },
    },
    async (req, reply) => {
      let conversationId: string;
      try {
        conversationId = await verifyCsatToken(csatKey, req.body.token);
      } catch {
        throw new AppError('UNAUTHORIZED', 'invalid or expired CSAT token', [{ field: 'body.token', reason: 'invalid or expired' }]);
      }
      if (conversationId !== req.params.id) throw new AppError('FORBIDDEN', 'this CSAT token is for another conversation', [{ field: 'body.token', reason: 'issued for another conversation' }]);
      return reply.status(201).send(await recordCsat(pool, req.params.id, req.body.score, req.body.comment));
    },
  );
};
