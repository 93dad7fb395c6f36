import type { FastifyInstance } from 'fastify';
import jwt from '@fastify/jwt';
import websocket from '@fastify/websocket';
import { declareRouteAuth, publicRoute } from '@omni/auth';
import { buildIngestApp, type IngestAppDeps } from '@omni/ingest';
import type { IngestDeps } from '@omni/ingest';
import { registerSessionRoute } from './routes/sessions';
import { registerVisitorSocket } from './routes/visitor-ws';
import type { SessionHub } from './session-hub';

export interface ChatAppOptions {
  sessionSecret: string;
  sessionTtlSeconds: number;
  maxFrameBytes: number;
  pingIntervalMs: number;
  hub: SessionHub;
  kickRelay: () => void;
}

/** The ingest-chat HTTP app; tests build it with real infrastructure and call it over HTTP. */
export async function buildApp(deps: IngestAppDeps, opts: ChatAppOptions): Promise<{ app: FastifyInstance; ingest: IngestDeps }> {
  return buildIngestApp('chat', deps, async (app, ingest) => {
    await app.register(jwt, { secret: opts.sessionSecret, verify: { algorithms: ['HS256'] } });
    await app.register(websocket, { options: { maxPayload: opts.maxFrameBytes } });
    // The session route checks the adapter's API key, the socket the visitor's session token (both in
    // their handlers); public routes are rate-limited per key / per session token / per IP.
    await app.register(async (scope) => {
      declareRouteAuth(scope, publicRoute('chat widget backend (adapter API key) and visitor socket (session token), checked by the routes'));
      registerSessionRoute(scope, {
        pool: deps.infra.pool,
        apiKeys: deps.apiKeys,
        ttlSeconds: opts.sessionTtlSeconds,
        signToken: (claims, ttl) => app.jwt.sign(claims, { expiresIn: ttl }),
      });
      registerVisitorSocket(scope, {
        pool: deps.infra.pool,
        topics: deps.infra.topics,
        ingest,
        hub: opts.hub,
        kickRelay: opts.kickRelay,
        pingIntervalMs: opts.pingIntervalMs,
        verifyToken: (token) => {
          const claims = app.jwt.verify<{ sid?: unknown }>(token);
          if (typeof claims.sid !== 'string') throw new Error('token carries no session id');
          return claims.sid;
        },
        logger: deps.logger,
      });
    });
  });
}
