import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { VisitorConnection, type VisitorDeps } from '../visitor-connection';

const WsQuery = Type.Object({
  // both optional strings on purpose: a bad value must be answered with an error frame on the
  // socket, which a 400 on the upgrade request cannot carry
  token: Type.Optional(Type.String({ description: 'session token from POST /v1/chat/sessions' })),
  lastSeq: Type.Optional(Type.String({ description: 'seq of the last reply the widget has; replies after it are replayed' })),
});

/** `GET /v1/chat/ws`: the visitor's live socket (protocol in docs/chat-websocket.md). */
export function registerVisitorSocket(app: FastifyInstance, deps: VisitorDeps): void {
  app.get<{ Querystring: Static<typeof WsQuery> }>(
    '/v1/chat/ws',
    { websocket: true, schema: { summary: 'Visitor websocket: send messages, receive agent replies, resume after reconnect', querystring: WsQuery } },
    (socket, req) => {
      new VisitorConnection(socket, deps, req.query.token, req.query.lastSeq);
    },
  );
}
