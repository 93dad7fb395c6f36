import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { cleanBySchema, newId, problemsOf } from '@omni/contracts';
import { AppError } from '@omni/service';
import type { AgentHub } from '../agent-hub';
import { principalOf } from '@omni/auth';
import { acceptOffer, AgentActionError, connectConsole, escalate, invite, leave, rejectOffer, reply, resolve, setPresence, transfer } from '../routing/agent-commands';
import { agentExists, detachSession } from '../store/agents';
import { endWrapUpByAgent } from '../routing/agent-state';
import { clockOf, type RouterCtx } from '../store/routing-tx';

const Ref = Type.Optional(Type.String({ maxLength: 128 }));
/**
 * What PostgreSQL cannot store (NUL, unpaired surrogates) is refused in ids (BAD_FRAME naming the
 * field) and replaced in agent text (reply text and subject, notes, reasons) before anything is
 * written: the contract's `storable` keyword and clean step (libs/contracts), as at every other boundary.
 */
const Id = () => Type.String({ minLength: 1, maxLength: 128, storable: 'refuse' });
const Text = (maxLength: number, minLength = 0) => Type.String({ ...(minLength ? { minLength } : {}), maxLength, storable: 'clean' });
const ConvId = Id();
/** Console → router commands (docs/agent-protocol.md). */
const COMMANDS = {
  ping: Type.Object({ type: Type.Literal('ping'), ref: Ref }, { additionalProperties: false }),
  presence: Type.Object(
    {
      type: Type.Literal('presence'),
      status: Type.Union([Type.Literal('online'), Type.Literal('away'), Type.Literal('offline')]),
      /** with away: one of the admins' away reasons (GET /v1/presence-reasons); anything else is refused */
      reason: Type.Optional(Type.String({ minLength: 1, maxLength: 32, storable: 'refuse' })),
      ref: Ref,
    },
    { additionalProperties: false },
  ),
  accept: Type.Object({ type: Type.Literal('accept'), conversationId: ConvId, ref: Ref }, { additionalProperties: false }),
  reject: Type.Object({ type: Type.Literal('reject'), conversationId: ConvId, reason: Type.Optional(Text(500)), ref: Ref }, { additionalProperties: false }),
  reply: Type.Object(
    { type: Type.Literal('reply'), conversationId: ConvId, text: Text(100_000, 1), subject: Type.Optional(Text(1024)), ref: Ref },
    { additionalProperties: false },
  ),
  escalate: Type.Object(
    { type: Type.Literal('escalate'), conversationId: ConvId, note: Type.Optional(Text(10_000)), toTier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })), ref: Ref },
    { additionalProperties: false },
  ),
  transfer: Type.Object(
    {
      type: Type.Literal('transfer'),
      conversationId: ConvId,
      toAgentId: Type.Optional(Id()),
      toTier: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
      note: Type.Optional(Text(10_000)),
      ref: Ref,
    },
    { additionalProperties: false },
  ),
  invite: Type.Object(
    {
      type: Type.Literal('invite'),
      conversationId: ConvId,
      agentId: Id(),
      role: Type.Union([Type.Literal('observer'), Type.Literal('helper')]),
      ref: Ref,
    },
    { additionalProperties: false },
  ),
  leave: Type.Object({ type: Type.Literal('leave'), conversationId: ConvId, ref: Ref }, { additionalProperties: false }),
  resolve: Type.Object({ type: Type.Literal('resolve'), conversationId: ConvId, reason: Type.Optional(Text(500)), ref: Ref }, { additionalProperties: false }),
  /** ends after-contact work early: one conversation's, or all of it without conversationId */
  'end-wrap-up': Type.Object({ type: Type.Literal('end-wrap-up'), conversationId: Type.Optional(ConvId), ref: Ref }, { additionalProperties: false }),
} satisfies Record<string, TSchema>;
type Commands = { [K in keyof typeof COMMANDS]: Static<(typeof COMMANDS)[K]> };

const Query = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 4096 }),
  /** the last seq this console saw: everything after it is replayed, nothing twice */
  lastSeq: Type.Optional(Type.Integer({ minimum: 0 })),
  /** presence to take on connect (default online) */
  presence: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('away')])),
});
type Query = Static<typeof Query>;

const agentOf = new WeakMap<FastifyRequest, string>();

/** GET /v1/agents/ws: the agent console socket (JWT with role agent; sub = agent id). */
export const agentSocketRoutes: FastifyPluginAsync<{ ctx: RouterCtx; hub: AgentHub }> = async (app, { ctx, hub }) => {
  app.get<{ Querystring: Query }>(
    '/v1/agents/ws',
    {
      websocket: true,
      // the token may come in the query string: browsers cannot set headers on a websocket upgrade
      config: { auth: { roles: ['agent'], tokenQuery: 'token' } },
      schema: { summary: 'Agent console websocket (see docs/agent-protocol.md)', querystring: Query },
      // Authenticated before the upgrade (libs/auth, onRequest): a bad token is a plain HTTP 401/403, never a socket.
      preValidation: async (req) => {
        const claims = principalOf(req);
        if (claims.role !== 'agent') throw new AppError('FORBIDDEN', 'the agent console needs an agent token (sub = agent id)');
        if (!(await agentExists(ctx.pool, claims.sub))) throw new AppError('FORBIDDEN', `agent ${claims.sub} is not registered`);
        agentOf.set(req, claims.sub);
      },
    },
    (socket: WebSocket, req) => {
      const agentId = agentOf.get(req)!;
      const sessionId = newId('ses');
      const send = (frame: Record<string, unknown>) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(frame));
      const error = (code: string, message: string, ref?: string) => send({ type: 'error', code, message, ref: ref ?? null });

      // Handlers are attached synchronously (frames sent right after the upgrade are not lost) and
      // wait for the session to be registered before acting.
      const ready = connect(ctx, hub, agentId, sessionId, socket, req.query).catch((err) => {
        ctx.logger.error({ err, agentId }, 'agent console connect failed');
        socket.close(1011, 'connect failed');
        throw err;
      });
      let queue = Promise.resolve();
      socket.on('message', (data) => {
        // Commands of one console run in order, one at a time.
        queue = queue.then(async () => {
          await ready;
          await handleFrame(ctx, agentId, String(data), send, error);
        }).catch(() => undefined);
      });
      // A console that vanished without closing (network gone) would otherwise look connected
      // forever and keep its conversations: no pong by the next ping and it is dropped.
      let alive = true;
      socket.on('pong', () => (alive = true));
      const pinger = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, ctx.config.WS_PING_INTERVAL_MS);
      pinger.unref();
      socket.on('close', () => {
        clearInterval(pinger);
        hub.detach(agentId, sessionId);
        void ready
          .then(() => detachSession(ctx.pool, agentId, sessionId, ctx.config.DISCONNECT_GRACE_MS, clockOf(ctx)))
          .catch((err) => ctx.logger.warn({ err, agentId }, 'could not record console disconnect; the liveness sweep will'));
      });
    },
  );
};

async function connect(ctx: RouterCtx, hub: AgentHub, agentId: string, sessionId: string, socket: WebSocket, q: Query): Promise<void> {
  const presence = q.presence ?? 'online';
  const state = await connectConsole(ctx, agentId, sessionId, presence);
  // A console claiming more than exists (stale state from another database) resumes from what does.
  const from = q.lastSeq !== undefined ? Math.min(q.lastSeq, state.fromSeq) : state.fromSeq;
  hub.attach(agentId, sessionId, socket, from);
  socket.send(
    JSON.stringify({
      type: 'welcome',
      agentId,
      sessionId,
      presence,
      resumeFrom: from,
      conversations: state.conversations.map((c) => ({ conversationId: c.id, status: c.status, offerDeadline: c.offer_deadline?.toISOString() ?? null })),
    }),
  );
  hub.wake([agentId]);
}

async function handleFrame(
  ctx: RouterCtx,
  agentId: string,
  raw: string,
  send: (f: Record<string, unknown>) => unknown,
  error: (code: string, message: string, ref?: string) => unknown,
): Promise<void> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return void error('BAD_FRAME', 'frame is not JSON');
  }
  const p = parsed as { type?: unknown; ref?: unknown };
  const ref = typeof p?.ref === 'string' ? p.ref : undefined;
  if (typeof p !== 'object' || p === null || typeof p.type !== 'string') return void error('BAD_FRAME', 'frame needs a string "type"', ref);
  const schema = COMMANDS[p.type as keyof typeof COMMANDS];
  if (!schema) return void error('UNKNOWN_TYPE', `unknown frame type ${p.type}`, ref);
  // agent text is cleaned of what cannot be stored, then the whole command validated (ids with it refused)
  parsed = cleanBySchema(schema, parsed).value;
  const problems = problemsOf(schema, parsed);
  if (problems.length) return void error('BAD_FRAME', problems.join('; '), ref);
  const ack = (extra: Record<string, unknown> = {}) => send({ type: 'ack', ref: ref ?? null, command: p.type, ...extra });
  try {
    switch (p.type) {
      case 'ping':
        return void ack();
      case 'presence': {
        const c = parsed as Commands['presence'];
        await setPresence(ctx, agentId, c.status, c.reason !== undefined ? { awayReason: c.reason } : {});
        return void ack({ presence: c.status, ...(c.reason !== undefined ? { reason: c.reason } : {}) });
      }
      case 'accept': {
        const c = parsed as Commands['accept'];
        await acceptOffer(ctx, agentId, c.conversationId);
        return void ack({ conversationId: c.conversationId });
      }
      case 'reject': {
        const c = parsed as Commands['reject'];
        await rejectOffer(ctx, agentId, c.conversationId, c.reason);
        return void ack({ conversationId: c.conversationId });
      }
      case 'reply': {
        const c = parsed as Commands['reply'];
        const outboundId = await reply(ctx, agentId, c.conversationId, c.text, c.subject);
        return void ack({ conversationId: c.conversationId, outboundId });
      }
      case 'escalate': {
        const c = parsed as Commands['escalate'];
        const tier = await escalate(ctx, agentId, c.conversationId, c.note, c.toTier);
        return void ack({ conversationId: c.conversationId, tier });
      }
      case 'transfer': {
        const c = parsed as Commands['transfer'];
        if (!c.toAgentId && c.toTier === undefined) return void error('BAD_FRAME', 'transfer needs toAgentId or toTier', ref);
        await transfer(ctx, agentId, c.conversationId, { ...(c.toAgentId ? { agentId: c.toAgentId } : {}), ...(c.toTier !== undefined ? { tier: c.toTier } : {}) }, c.note);
        return void ack({ conversationId: c.conversationId });
      }
      case 'invite': {
        const c = parsed as Commands['invite'];
        await invite(ctx, agentId, c.conversationId, c.agentId, c.role);
        return void ack({ conversationId: c.conversationId, agentId: c.agentId, role: c.role });
      }
      case 'leave': {
        const c = parsed as Commands['leave'];
        await leave(ctx, agentId, c.conversationId);
        return void ack({ conversationId: c.conversationId });
      }
      case 'resolve': {
        const c = parsed as Commands['resolve'];
        await resolve(ctx, agentId, c.conversationId, c.reason);
        return void ack({ conversationId: c.conversationId });
      }
      case 'end-wrap-up': {
        const c = parsed as Commands['end-wrap-up'];
        return void ack({ ended: await endWrapUpByAgent(ctx, agentId, c.conversationId) });
      }
    }
  } catch (err) {
    if (err instanceof AgentActionError) return void error(err.code, err.message, ref);
    ctx.logger.error({ err, agentId, type: p.type }, 'agent command failed');
    return void error('INTERNAL', 'internal error', ref);
  }
}
