import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import httpProxy from '@fastify/http-proxy';
import { declareRouteAuth, type ServiceAuth } from '@omni/auth';
import type { Logger } from '@omni/logging';
import { createHttpApp } from '@omni/service';
import { WallboardStream } from './wallboard-stream';

export interface ConsoleAppDeps {
  logger: Logger;
  auth: ServiceAuth['http'];
  routerUrl: string;
  historyUrl: string;
  /** the built web app (index.html, assets/ with .br/.gz beside each file) */
  distDir: string;
  pollMs: number;
  kpiPollMs: number;
}

/** Pages the single-page app answers (deep links and reloads get index.html). */
export const PAGES = ['/', '/agent', '/wallboard', '/admin'] as const;

/**
 * The console service: serves the built web app and forwards /router/* and /history/* (HTTP and the
 * agent websocket) to those services, so the browser talks to one origin and needs no CORS; the
 * upstreams keep checking every token themselves. Adds the one thing no upstream offers: the
 * supervisor wallboard's push stream (GET /v1/wallboard/stream, server-sent events).
 */
export async function buildApp(deps: ConsoleAppDeps): Promise<FastifyInstance> {
  const readiness = [
    {
      name: 'web app built',
      check: async () => {
        if (!existsSync(join(deps.distDir, 'index.html'))) throw new Error(`no index.html in ${deps.distDir}`);
      },
    },
  ];
  const app = await createHttpApp({ name: 'console', logger: deps.logger, readiness, description: 'Agent console, supervisor wallboard and admin pages', ...deps.auth });

  // The web app itself: static files with no data; every API call it makes carries its own token.
  await app.register(async (scope) => {
    declareRouteAuth(scope, { public: 'the web app: static files, no data (its API calls carry their own token)' });
    await scope.register(fastifyStatic, {
      root: deps.distDir,
      prefix: '/',
      wildcard: true,
      preCompressed: true,
      index: false,
      globIgnore: ['.built'],
      setHeaders: (res: { setHeader: (k: string, v: string) => void }, path: string) => {
        // hashed asset names never change content: cache for a year; index.html always revalidates
        res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    } as never);
    for (const p of PAGES) scope.get(p, { schema: { hide: true } }, (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html'));
  });

  // Both upstreams authorise every call themselves (the console adds no privilege): public here.
  const forwarded = { auth: { public: 'forwarded as is to the router/history, which check the bearer token' } };
  await app.register(httpProxy, { upstream: deps.routerUrl, prefix: '/router', websocket: true, config: forwarded, wsClientOptions: { rewriteRequestHeaders: (headers: Record<string, unknown>) => headers } as never });
  await app.register(httpProxy, { upstream: deps.historyUrl, prefix: '/history', config: forwarded });

  const streams = new Set<WallboardStream>();
  app.get<{ Querystring: { token?: string } }>(
    '/v1/wallboard/stream',
    {
      config: { auth: { roles: ['supervisor'], tokenQuery: 'token' } },
      schema: { summary: 'Live wallboard (server-sent events: live = queues and agents, kpis = today, auth = token refused upstream)', querystring: { type: 'object', properties: { token: { type: 'string', maxLength: 8192 } } } },
    },
    (req, reply) => {
      const token = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7).trim() : req.query.token!;
      reply.hijack();
      const s = new WallboardStream(reply.raw, token, { routerUrl: deps.routerUrl, historyUrl: deps.historyUrl, pollMs: deps.pollMs, kpiPollMs: deps.kpiPollMs, logger: deps.logger });
      streams.add(s);
      reply.raw.on('close', () => streams.delete(s));
      s.start();
    },
  );
  app.addHook('onClose', async () => {
    for (const s of streams) s.close();
  });
  return app;
}
