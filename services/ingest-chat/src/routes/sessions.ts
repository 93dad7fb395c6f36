import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { cleanString, isStorable, LIMITS, newId } from '@omni/contracts';
import { authenticateAdapter } from '@omni/ingest';
import { insertSession } from '../session-store';
import type { Pool } from 'pg';

export const CreateSessionBody = Type.Object(
  {
    visitorId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@-]+$', description: 'the widget\'s stable visitor id; generated when absent' })),
    // a name is the visitor's text: cleaned (NUL and lone surrogates become U+FFFD) when stored
    name: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.name.maxLength })),
    email: Type.Optional(Type.String({ maxLength: LIMITS.address.maxLength, maxBytes: LIMITS.address.maxBytes, storable: 'refuse', format: 'email' })),
    language: Type.Optional(Type.String({ minLength: 2, maxLength: 16, pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$' })),
  },
  { $id: 'CreateChatSession', additionalProperties: false },
);

export const ChatSessionCreated = Type.Object(
  {
    sessionId: Type.String(),
    token: Type.String({ description: 'HS256 JWT for GET /v1/chat/ws?token=…' }),
    visitorId: Type.String(),
    expiresAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'ChatSessionCreated' },
);

export interface SessionRouteDeps {
  pool: Pool;
  apiKeys: Map<string, string>;
  ttlSeconds: number;
  signToken: (claims: { sid: string; vid: string }, ttlSeconds: number) => string;
}

/** `POST /v1/chat/sessions`: the website widget's backend (an adapter, by API key) opens a visitor session. */
export function registerSessionRoute(app: FastifyInstance, deps: SessionRouteDeps): void {
  const adapterOf = new WeakMap<object, string>();
  app.post<{ Body: Static<typeof CreateSessionBody> }>(
    '/v1/chat/sessions',
    {
      onRequest: async (req) => void adapterOf.set(req, authenticateAdapter(req, deps.apiKeys)),
      schema: {
        summary: 'Open a live chat session for a website visitor; returns the token for the websocket',
        headers: { type: 'object', properties: { 'x-api-key': { type: 'string' } } },
        body: CreateSessionBody,
        response: { 201: ChatSessionCreated, '4xx': { $ref: 'ErrorBody#' } },
      },
    },
    async (req, reply) => {
      const sessionId = newId('cs');
      const visitorId = req.body.visitorId ?? newId('v');
      const expiresAt = new Date(Date.now() + deps.ttlSeconds * 1000);
      await insertSession(deps.pool, {
        sessionId,
        adapterId: adapterOf.get(req)!,
        visitorId,
        ...(req.body.name ? { name: isStorable(req.body.name) ? req.body.name : cleanString(req.body.name) } : {}),
        ...(req.body.email ? { email: req.body.email } : {}),
        ...(req.body.language ? { language: req.body.language } : {}),
        expiresAt,
      });
      const token = deps.signToken({ sid: sessionId, vid: visitorId }, deps.ttlSeconds);
      return reply.status(201).send({ sessionId, token, visitorId, expiresAt: expiresAt.toISOString() });
    },
  );
}
