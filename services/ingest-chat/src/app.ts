import type { FastifyInstance } from 'fastify';
import jwt from '@fastify/jwt';
import websocket from '@fastify/websocket';
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
    registerSessionRoute(app, {
      pool: deps.infra.pool,
      apiKeys: deps.apiKeys,
      ttlSeconds: opts.sessionTtlSeconds,
      signToken: (claims, ttl) => app.jwt.sign(claims, { expiresIn: ttl }),
    });
    registerVisitorSocket(app, {
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
}
