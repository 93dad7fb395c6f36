/**
 * Access control across every service over real sockets, the real broker and database
 * (docs/access-control.md):
 * - the route table of every running app is read back (fastify's onRoute, libs/auth routeAccess) and
 *   compared with the documented policy, so a new route cannot be forgotten;
 * - every route × {no token, expired, forged, admin, supervisor, agent, service without scope, service
 *   with scopes} answers as the policy says, and nothing in any schema changed;
 * - an agent reads the customers and conversations it served and gets 404 for the others;
 * - sign-in, refresh rotation and reuse detection, sign-out, password reset, lock-out, 429s,
 *   OIDC tokens against a JWKS served here, CSAT by the token on conversation.resolved, the audit trail.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import { mintAccessToken, type RouteAccess } from '@omni/auth';
import { startIngestService } from '@omni/ingest';
import * as historyCfg from '@omni/history/src/config';
import { start as startHistory } from '@omni/history/src/start';
import * as chatCfg from '@omni/ingest-chat/src/config';
import { start as startChat } from '@omni/ingest-chat/src/start';
import * as emailCfg from '@omni/ingest-email/src/config';
import { start as startEmail } from '@omni/ingest-email/src/start';
import * as phoneCfg from '@omni/ingest-phone/src/config';
import { start as startPhone } from '@omni/ingest-phone/src/start';
import * as socialCfg from '@omni/ingest-social/src/config';
import { start as startSocial } from '@omni/ingest-social/src/start';
import { JWT_SECRET, RouterHarness } from '../services/router/test/support/router-harness';
import { eventually, testLogger } from './support/infra';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');

// ---- the documented policy (docs/access-control.md): who may call each route of router and history ----
const PUBLIC = 'public';
const A = 'admin', S = 'supervisor', G = 'agent';
const POLICY: Record<string, string | string[]> = {
  'router GET /healthz': PUBLIC,
  'router GET /readyz': PUBLIC,
  'router GET /metrics': PUBLIC,
  'router GET /openapi.json': PUBLIC,
  'router POST /v1/auth/sign-in': PUBLIC,
  'router POST /v1/auth/refresh': PUBLIC,
  'router POST /v1/auth/sign-out': PUBLIC,
  'router POST /v1/accounts': [A],
  'router GET /v1/accounts': [A],
  'router GET /v1/accounts/:id': [A],
  'router PATCH /v1/accounts/:id': [A],
  'router PUT /v1/accounts/:id/password': [A],
  'router GET /v1/conversations/:id': [A, S, 'service:conversations:read'],
  'router GET /v1/queues': [A, S, 'service:queues:read'],
  'router PUT /v1/admin/agents/:id': [A],
  'router GET /v1/admin/agents': [A, S],
  'router GET /v1/admin/agents/:id': [A, S],
  'router GET /v1/admin/rules': [A, S],
  'router PUT /v1/admin/rules': [A],
  'router GET /v1/admin/rules/versions': [A, S],
  'router POST /v1/admin/rules/versions/:version/activate': [A],
  'router PUT /v1/agents/:id/presence': [A, S],
  'router POST /v1/conversations/:id/transfer': [A, S],
  // the console socket is an agent's: an admin token passes the role check but is refused as not an agent
  'router GET /v1/agents/ws': [G],
  'router GET /v1/audit': [A],
  'history GET /healthz': PUBLIC,
  'history GET /readyz': PUBLIC,
  'history GET /metrics': PUBLIC,
  'history GET /openapi.json': PUBLIC,
  'history GET /v1/customers': [A, S, G, 'service:customers:read'],
  'history GET /v1/customers/:id': [A, S, G, 'service:customers:read'],
  'history GET /v1/customers/:id/timeline': [A, S, G, 'service:customers:read'],
  'history GET /v1/customers/:id/merges': [A, S, G, 'service:customers:read'],
  'history POST /v1/customers/:id/merge': [A, S],
  'history GET /v1/merges/:mergeId': [A, S],
  'history POST /v1/merges/:mergeId/unmerge': [A, S],
  'history GET /v1/conversations/:id': [A, S, G, 'service:conversations:read'],
  'history POST /v1/conversations/:id/csat': PUBLIC,
  'history GET /v1/kpis': [A, S, 'service:kpis:read'],
  'history GET /v1/kpis/categories': [A, S, 'service:kpis:read'],
  'history GET /v1/audit': [A],
};
const ALL_SCOPES = ['conversations:read', 'queues:read', 'customers:read', 'kpis:read', 'metrics:read', 'openapi:read'];
const OPEN_BY_DESIGN = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json']);

const h = new RouterHarness();
const services: { name: string; url: string; app: FastifyInstance; close: () => Promise<void> }[] = [];
let historyUrl: string;
let jwks: Server;
let issuer: string;
let signingKey: KeyLike;
let otherKey: KeyLike;

const tok = (role: 'admin' | 'supervisor' | 'agent' | 'service', sub: string, scopes?: string[]) => mintAccessToken(JWT_SECRET, { sub, role, ...(scopes ? { scopes } : {}) }, 3600);
const VARIANTS: Record<string, string | undefined> = {
  none: undefined,
  expired: mintAccessToken(JWT_SECRET, { sub: 'test-admin', role: 'admin' }, 60, new Date(Date.now() - 3600_000)),
  forged: mintAccessToken('forged-secret-not-the-real-one-0123456789', { sub: 'test-admin', role: 'admin' }, 3600),
  admin: tok('admin', 'test-admin'),
  supervisor: tok('supervisor', 'sup-1'),
  agent: tok('agent', 'agent-1'),
  serviceNoScope: tok('service', 'svc-none'),
  serviceScoped: tok('service', 'svc-all', ALL_SCOPES),
};

async function http(base: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, body: json };
}
const router = (method: string, path: string, opts?: Parameters<typeof http>[3]) => http(h.url, method, path, opts);
const history = (method: string, path: string, opts?: Parameters<typeof http>[3]) => http(historyUrl, method, path, opts);

/** A fingerprint of every row of every table of the services' schemas. */
async function databaseState(): Promise<Record<string, string>> {
  const { rows } = await h.world.pool.query<{ s: string; t: string }>(
    `SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_schema IN ('router', 'history', 'ingest') AND table_type = 'BASE TABLE' ORDER BY 1, 2`,
  );
  const out: Record<string, string> = {};
  for (const r of rows) {
    const q = await h.world.pool.query(`SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS f FROM "${r.s}"."${r.t}" x`);
    out[`${r.s}.${r.t}`] = q.rows[0].f;
  }
  return out;
}

beforeAll(async () => {
  // An OIDC provider's key set, served over HTTP for the services to fetch.
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey as KeyLike;
  otherKey = (await generateKeyPair('RS256')).privateKey as KeyLike;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/jwks' ? { keys: [jwk] } : {}));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/realms/support`;
  const oidc = {
    OIDC_ISSUER: issuer,
    OIDC_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`,
    OIDC_AUDIENCE: 'omni-test',
    OIDC_ROLE_CLAIM: 'groups',
    OIDC_ROLE_MAP: 'support-admins:admin,support-leads:supervisor,support-agents:agent',
    OIDC_SUBJECT_CLAIM: 'preferred_username',
  };
  await h.start('access', { ...oidc, SIGNIN_MAX_FAILURES: '3', SIGNIN_LOCKOUT_MS: '600000', SIGNIN_RATE_LIMIT_PER_MINUTE: '40', OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000' });
  const w = h.world;
  const hist = await startHistory(historyCfg.readConfig(w.env({ ...oidc, HISTORY_GROUP_ID: w.groupId('history'), JWT_SECRET })), testLogger);
  historyUrl = hist.url;
  services.push({ name: 'history', url: hist.url, app: hist.app, close: hist.close });
  const common = { JWT_SECRET, ADAPTER_API_KEYS: 'adapter-1:key-adapter-0123456789abcdef' };
  const chat = await startIngestService('chat', chatCfg.readConfig(w.env({ ...common, CHAT_WS_GROUP_ID: w.groupId('chat-ws') })), testLogger, startChat);
  services.push({ name: 'ingest-chat', ...chat });
  const email = await startIngestService('email', emailCfg.readConfig(w.env({ ...common, POSTMARK_BASIC_AUTH: 'pm:pm-password-0123', SENDGRID_BASIC_AUTH: 'sg:sg-password-0123', MAILGUN_SIGNING_KEY: 'mailgun-key-0123456789' })), testLogger, startEmail);
  services.push({ name: 'ingest-email', ...email });
  const phone = await startIngestService('phone', phoneCfg.readConfig(w.env({ ...common, TWILIO_AUTH_TOKEN: 'twilio-token-0123456789', TWILIO_PUBLIC_URL: 'https://support.example.com' })), testLogger, startPhone);
  services.push({ name: 'ingest-phone', ...phone });
  // social with /metrics and /openapi.json restricted by configuration
  const social = await startIngestService(
    'social',
    socialCfg.readConfig(w.env({ ...common, META_APP_SECRET: 'meta-app-secret-0123456789', META_VERIFY_TOKEN: 'meta-verify', METRICS_AUTH: 'token', OPENAPI_AUTH: 'token' })),
    testLogger,
    startSocial,
  );
  services.push({ name: 'ingest-social', ...social });
  // the one agent the agent tokens name
  await h.createAgent('agent-1', { tiers: [1, 2, 3, 4, 5] });
});

afterAll(async () => {
  for (const s of services.reverse()) await s.close().catch(() => undefined);
  await h.stop();
  await new Promise((r) => jwks?.close(r));
});

/** Every (service, route) pair of the running apps, with its declared auth (HEAD routes mirror GET). */
function routeTable(): { service: string; base: string; route: RouteAccess }[] {
  const out = h.apps[0]!.routeAccess
    .filter((r) => r.method !== 'HEAD')
    .map((route) => ({ service: 'router', base: h.url, route }));
  for (const s of services) for (const route of s.app.routeAccess) if (route.method !== 'HEAD') out.push({ service: s.name, base: s.url, route });
  return out;
}

/** What a caller may do on a route: 'public', or the allowed role list (service entries carry a scope). */
function policyOf(service: string, r: RouteAccess): string | string[] {
  const key = `${service} ${r.method} ${r.url}`;
  if (service === 'router' || service === 'history') return POLICY[key] ?? 'UNDOCUMENTED';
  if ((r.url === '/metrics' || r.url === '/openapi.json') && service === 'ingest-social') return [A, S, `service:${r.url === '/metrics' ? 'metrics' : 'openapi'}:read`];
  return PUBLIC; // ingest routes: health and provider/adapter routes that check their own credential
}

function allowedFor(variant: string, allowed: string[]): boolean {
  switch (variant) {
    case 'admin':
      return allowed.includes(A);
    case 'supervisor':
      return allowed.includes(S);
    case 'agent':
      return allowed.includes(G);
    case 'serviceScoped':
      return allowed.some((a) => a.startsWith('service:') && ALL_SCOPES.includes(a.slice('service:'.length)));
    default:
      return false; // none, expired, forged, a service token without the route's scope
  }
}

describe('every route of every service', () => {
  it('declares who may call it, as documented', () => {
    const seen = routeTable();
    const declared = Object.fromEntries(
      seen
        .filter((e) => e.service === 'router' || e.service === 'history')
        .map((e) => [`${e.service} ${e.route.method} ${e.route.url}`, 'public' in e.route.auth ? PUBLIC : 'declared']),
    );
    // exactly the documented routes: a new route without a row in POLICY (and in the docs) fails here
    expect(Object.keys(declared).sort()).toEqual(Object.keys(POLICY).sort());
    for (const [key, decl] of Object.entries(declared)) expect({ key, public: decl === PUBLIC }).toEqual({ key, public: POLICY[key] === PUBLIC });
    // every ingest route that is not a probe is public with its own credential check
    for (const e of seen.filter((x) => x.service.startsWith('ingest-'))) expect(e.route.auth).toBeDefined();
    expect(seen.length).toBeGreaterThan(60);
  });

  it('answers each caller as the policy says and changes nothing when it refuses', async () => {
    const before = await databaseState();
    const problems: string[] = [];
    let checked = 0;
    for (const { service, base, route } of routeTable()) {
      const policy = policyOf(service, route);
      const path = route.url.replace(/:[A-Za-z]+/g, (p) => (p === ':version' ? 'x' : `x-${p.slice(1)}`));
      const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;
      for (const [variant, token] of Object.entries(VARIANTS)) {
        const res = await http(base, route.method, path, { token, ...(body !== undefined ? { body } : {}) });
        checked++;
        const where = `${service} ${route.method} ${route.url} as ${variant}: ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`;
        if (res.status >= 500) problems.push(`5xx — ${where}`);
        if (policy === PUBLIC) {
          if (OPEN_BY_DESIGN.has(route.url)) {
            if (res.status !== 200) problems.push(`open route not 200 — ${where}`);
          } else if (!route.websocket && (res.status < 400 || res.status >= 500)) problems.push(`public route accepted a request without its own credential — ${where}`);
          continue;
        }
        if (policy === 'UNDOCUMENTED') {
          problems.push(`undocumented route — ${where}`);
          continue;
        }
        const allowed = allowedFor(variant, policy as string[]);
        if (['none', 'expired', 'forged'].includes(variant)) {
          if (res.status !== 401) problems.push(`expected 401 — ${where}`);
        } else if (!allowed && res.status !== 403) problems.push(`expected 403 — ${where}`);
        else if (allowed && (res.status === 401 || res.status === 403)) problems.push(`expected to be let through — ${where}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(400);
    expect(await databaseState()).toEqual(before);
  });
});
