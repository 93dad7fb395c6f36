import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, RouteOptions, onRequestHookHandler } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Counter } from 'prom-client';
import { AppError } from '@omni/service';
import { allows, type Principal, type RouteAuth } from './roles';
import type { TokenVerifier } from './tokens';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** who may call this route: every route must say (libs/auth routeGuard refuses it otherwise) */
    auth?: RouteAuth;
  }
  interface FastifyInstance {
    /** every route registered so far with its auth declaration (the access matrix test walks it) */
    routeAccess: RouteAccess[];
  }
  interface FastifyRequest {
    /** the verified caller of a route declared with roles; null on public routes */
    principal: Principal | null;
  }
}

const DEFAULT_AUTH = Symbol.for('omni.auth.default');
const GUARD_HOOK = Symbol.for('omni.auth.hook');

export interface RouteAccess {
  method: string;
  url: string;
  auth: RouteAuth;
  websocket: boolean;
}

/**
 * Declares the auth of every route registered later in this encapsulated scope (and its children)
 * that does not declare its own: e.g. a provider's routes, whose handlers verify the provider's signature.
 */
export function declareRouteAuth(scope: FastifyInstance, auth: RouteAuth): void {
  (scope as unknown as Record<symbol, RouteAuth>)[DEFAULT_AUTH] = auth;
}

export interface PublicRateLimit {
  /** requests per window per IP on public routes, for callers that show no API key or session token */
  max: number;
  /** requests per window per API key or session token (adapters post at volume from few IPs) */
  maxPerCredential: number;
  timeWindowMs: number;
}

export interface RouteGuardOptions {
  verifier: TokenVerifier;
  publicRateLimit: PublicRateLimit;
}

const digest = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

/** The bearer token of a request (Authorization header), or the named query parameter. */
function presentedToken(req: FastifyRequest, queryParam?: string): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim() || undefined;
  if (queryParam) {
    const v = (req.query as Record<string, unknown> | undefined)?.[queryParam];
    if (typeof v === 'string' && v) return v;
  }
  return undefined;
}

/**
 * Who a public request counts against: the adapter API key or visitor/CSAT token it presents
 * (hashed), else its IP. So one adapter flooding does not starve another behind the same proxy.
 */
export function publicCallerKey(req: FastifyRequest): string {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key) return `key:${digest(key)}`;
  const bearer = presentedToken(req, 'token');
  if (bearer) return `cred:${digest(bearer)}`;
  return `ip:${req.ip}`;
}

/**
 * The one access-control implementation every service installs (through createHttpApp's `guard`):
 * - refuses to register a route without `config.auth` (or a scope default), so nothing is open by mistake;
 * - on routes declared with roles, verifies the bearer token (401) and the role/scope (403) before
 *   the body is read, and sets `req.principal`;
 * - registers @fastify/rate-limit (per-replica memory store) and limits public routes per caller;
 *   429s carry Retry-After and count in `http_rate_limited_total`.
 */
export function routeGuard(opts: RouteGuardOptions) {
  return async (app: FastifyInstance): Promise<void> => {
    app.decorateRequest('principal', null);
    const table: RouteAccess[] = [];
    app.decorate('routeAccess', table);
    const limited = new Counter({
      name: 'http_rate_limited_total',
      help: 'Requests refused with 429 by a rate limit, by route and limit',
      labelNames: ['route', 'limit'],
      registers: [app.metrics],
    });
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: (_req, ctx) => new AppError('TOO_MANY_REQUESTS', `rate limit exceeded, retry in ${ctx.after}`, undefined, Math.max(1, Math.ceil(ctx.ttl / 1000))),
    });
    const publicLimit = (url: string, own?: { max: number; timeWindowMs: number; by?: 'ip' | 'caller' }) =>
      app.rateLimit({
        max: own ? own.max : (_req: FastifyRequest, key: string) => (key.startsWith('ip:') ? opts.publicRateLimit.max : opts.publicRateLimit.maxPerCredential),
        timeWindow: own?.timeWindowMs ?? opts.publicRateLimit.timeWindowMs,
        keyGenerator: own?.by === 'ip' ? (req) => `ip:${req.ip}` : publicCallerKey,
        onExceeded: () => limited.inc({ route: url, limit: own ? 'route' : 'public' }),
      });

    app.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
      const auth = route.config?.auth ?? (this as unknown as Record<symbol, RouteAuth | undefined>)[DEFAULT_AUTH];
      if (!auth) throw new Error(`route ${String(route.method)} ${route.url} declares no config.auth: every route must say who may call it (libs/auth)`);
      route.config = { ...(route.config ?? {}), auth };
      for (const method of [route.method].flat()) table.push({ method: String(method), url: route.url, auth, websocket: !!(route as { websocket?: boolean }).websocket });
      const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : [];
      // fastify derives HEAD routes from GET ones with the same hooks: check once
      if (existing.some((h) => (h as unknown as Record<symbol, boolean>)[GUARD_HOOK])) return;
      const mark = <T extends object>(h: T): T => Object.assign(h, { [GUARD_HOOK]: true });
      if ('public' in auth) {
        // probes are polled by the orchestrator; the rest of the public surface is limited per caller
        const probe = route.url === '/healthz' || route.url === '/readyz';
        route.onRequest = probe ? existing : [mark(publicLimit(route.url, auth.rateLimit) as onRequestHookHandler), ...existing];
        return;
      }
      const check: onRequestHookHandler = async (req) => {
        const token = presentedToken(req, auth.tokenQuery);
        if (!token) throw new AppError('UNAUTHORIZED', 'a bearer token is required (Authorization: Bearer …)');
        let principal: Principal;
        try {
          principal = await opts.verifier.verify(token);
        } catch (err) {
          throw new AppError('UNAUTHORIZED', (err as Error).message);
        }
        if (!allows(auth, principal)) throw new AppError('FORBIDDEN', `this needs one of the roles ${['admin', ...auth.roles].join(', ')}${auth.scopes?.length ? ` (service scope ${auth.scopes.join(' or ')})` : ''}`);
        req.principal = principal;
      };
      route.onRequest = [mark(check), ...existing];
    });
  };
}

/** The caller of a route declared with roles (throws if the route was public: a wiring bug). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new AppError('UNAUTHORIZED', 'a bearer token is required');
  return req.principal;
}
