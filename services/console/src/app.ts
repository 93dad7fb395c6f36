import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { loadStaticFiles, pickEncoding } from './static-files';
import httpProxy from '@fastify/http-proxy';
import type { ServiceAuth } from '@omni/auth';
import type { Logger } from '@omni/logging';
import { createHttpApp } from '@omni/service';
import { WallboardStream } from './wallboard-stream';

export interface ConsoleAppDeps {
  logger: Logger;
  auth: ServiceAuth['http'];
  routerUrl: string;
  historyUrl: string;
  knowledgeUrl: string;
  /** the built web app (index.html, assets/ with .br/.gz beside each file), read once at start */
  distDir: string;
  pollMs: number;
  kpiPollMs: number;
}

/** Pages the single-page app answers (deep links and reloads get index.html). */
export const PAGES = ['/', '/agent', '/wallboard', '/admin'] as const;

/**
 * The console service: serves the built web app and forwards /router/*, /history/* and /knowledge/*
 * (HTTP, and the router's agent websocket) to those services, so the browser talks to one origin and needs no CORS; the
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
  const files = loadStaticFiles(deps.distDir);
  const serve = (path: string, req: FastifyRequest, reply: FastifyReply) => {
    const f = files.get(path);
    if (!f) return reply.status(404).send({ error: 'NOT_FOUND', message: `no file ${path}` });
    // hashed asset names never change content: cache for a year; index.html always revalidates
    reply.header('cache-control', path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache').header('etag', f.etag).header('vary', 'accept-encoding');
    if (req.headers['if-none-match'] === f.etag) return reply.status(304).send();
    const { body, encoding } = pickEncoding(f, req.headers['accept-encoding']);
    if (encoding) reply.header('content-encoding', encoding);
    return reply.type(f.type).send(body);
  };
  const page = { auth: { public: 'the web app: static files, no data (its API calls carry their own token)' } } as const;
  for (const p of PAGES) app.get(p, { config: page, schema: { hide: true } }, (req, reply) => serve('/index.html', req, reply));
  app.get<{ Params: { '*': string } }>('/assets/*', { config: page, schema: { hide: true } }, (req, reply) => serve(`/assets/${req.params['*']}`, req, reply));

  // All three upstreams authorise every call themselves (the console adds no privilege): public here.
  // X-Forwarded-For carries the person's address on, so the router's per-IP sign-in limit and the
  // audit trail see people rather than the console (list the console in the router's TRUST_PROXY).
  const forwarded = { auth: { public: 'forwarded as is to the router/history/knowledge, which check the bearer token' } };
  const withClientIp = <H extends Record<string, unknown>>(req: FastifyRequest, headers: H): H => ({
    ...headers,
    'x-forwarded-for': [req.headers['x-forwarded-for'], req.ip].filter(Boolean).join(', '),
  });
  // An upstream that cannot be reached or drops the connection (stopped, restarting) is infrastructure
  // unavailable: 503 with Retry-After and the usual error body, never reply-from's own 500.
  const upstreamDown = (reply: FastifyReply, { error }: { error: Error }) => {
    deps.logger.warn({ err: error.message, url: reply.request.url }, 'upstream unavailable');
    void reply.status(503).header('retry-after', '5').send({ error: 'UNAVAILABLE', message: 'service behind the console unavailable, retry later' });
  };
  const replyOptions = { rewriteRequestHeaders: withClientIp, onError: upstreamDown } as never;
  const wsClientOptions = { rewriteRequestHeaders: (headers: Record<string, unknown>, req: FastifyRequest) => withClientIp(req, headers) } as never;
  await app.register(httpProxy, { upstream: deps.routerUrl, prefix: '/router', websocket: true, config: forwarded, replyOptions, wsClientOptions });
  await app.register(httpProxy, { upstream: deps.historyUrl, prefix: '/history', config: forwarded, replyOptions });
  await app.register(httpProxy, { upstream: deps.knowledgeUrl, prefix: '/knowledge', config: forwarded, replyOptions });

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
