import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import pino from 'pino';
import { createHttpApp } from '@omni/service';
import {
  allows,
  assertProductionSecrets,
  csatKey,
  declareRouteAuth,
  defaultServiceAuth,
  hashPassword,
  mapOidcRole,
  mintAccessToken,
  mintCsatToken,
  publicRoute,
  routeGuard,
  secretProblem,
  signHs256,
  TokenVerifier,
  verifyCsatToken,
  verifyPassword,
  type Principal,
  type Role,
} from '@omni/auth';

const SECRET = 'unit-secret-for-access-tokens-0123456789';
const p = (role: Role, scopes: string[] = []): Principal => ({ sub: 'x', role, scopes, issuer: 'local' });

describe('roles', () => {
  test.each([
    // [declared roles, declared scopes, caller, allowed]
    [[], undefined, p('admin'), true],
    [[], undefined, p('supervisor'), false],
    [['supervisor'], undefined, p('agent'), false],
    [['supervisor', 'agent'], undefined, p('agent'), true],
    [['supervisor', 'service'], ['kpis:read'], p('service', ['kpis:read']), true],
    [['supervisor', 'service'], ['kpis:read'], p('service', ['customers:read']), false],
    [['supervisor', 'service'], ['kpis:read'], p('service'), false],
    [['supervisor'], ['kpis:read'], p('service', ['kpis:read']), false],
  ] as const)('roles %j scopes %j: %j → %s', (roles, scopes, who, ok) => {
    expect(allows({ roles, ...(scopes ? { scopes } : {}) }, who)).toBe(ok);
  });
});

describe('access tokens', () => {
  const verifier = new TokenVerifier(SECRET);

  test('a token we signed verifies to its principal', async () => {
    const t = mintAccessToken(SECRET, { sub: 'agent-7', role: 'agent' }, 60);
    await expect(verifier.verify(t)).resolves.toEqual({ sub: 'agent-7', role: 'agent', scopes: [], issuer: 'local' });
    const s = mintAccessToken(SECRET, { sub: 'crm', role: 'service', scopes: ['kpis:read'] }, 60);
    await expect(verifier.verify(s)).resolves.toMatchObject({ role: 'service', scopes: ['kpis:read'] });
  });

  test('expired, forged, unsigned, wrong audience or issuer, unknown role: refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: 'a', role: 'admin', iss: 'omni', aud: 'omni-api', iat: now, exp: now + 60 };
    const bad = [
      mintAccessToken(SECRET, { sub: 'a', role: 'admin' }, 60, new Date(Date.now() - 3600_000)), // expired
      mintAccessToken('another-secret-of-the-same-length-000', { sub: 'a', role: 'admin' }, 60), // forged
      signHs256({ ...base, aud: 'elsewhere' }, SECRET),
      signHs256({ ...base, iss: 'someone' }, SECRET),
      signHs256({ ...base, role: 'root' }, SECRET),
      signHs256({ ...base, sub: undefined }, SECRET),
      // alg none
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(base)).toString('base64url')}.`,
      // HS384 with the right key: only HS256 is accepted
      (() => {
        const h = `${Buffer.from('{"alg":"HS384"}').toString('base64url')}.${Buffer.from(JSON.stringify(base)).toString('base64url')}`;
        return `${h}.${createHmac('sha384', SECRET).update(h).digest('base64url')}`;
      })(),
    ];
    for (const t of bad) await expect(verifier.verify(t)).rejects.toThrow();
  });

  test('any string that is not a token we signed is refused, never thrown past TokenError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), async (s) => {
        await expect(verifier.verify(s)).rejects.toThrow();
      }),
      { numRuns: 200 },
    );
  });
});

describe('OIDC role mapping', () => {
  const map = { roleClaim: 'realm_access.roles', roleMap: { 'support-admins': 'admin', 'support-agents': 'agent', leads: 'supervisor' } as Record<string, Role> };
  test('the strongest mapped role wins; nothing mapped is no role', () => {
    expect(mapOidcRole({ realm_access: { roles: ['support-agents', 'leads'] } }, map)).toBe('supervisor');
    expect(mapOidcRole({ realm_access: { roles: ['x'] } }, map)).toBeUndefined();
    expect(mapOidcRole({ realm_access: { roles: 'support-admins' } }, map)).toBe('admin');
    expect(mapOidcRole({}, map)).toBeUndefined();
  });
});

describe('production secrets', () => {
  test.each([
    ['', 'is not set'],
    ['short', 'shorter'],
    ['dev-router-jwt-secret-change-me-000000000', 'placeholder'],
    ['dev-only-chat-session-secret-change-me', 'placeholder'],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'distinct'],
  ])('%j %s', (v, why) => expect(secretProblem(v)).toContain(why));
  test('a random 32-byte hex secret passes', () => expect(secretProblem('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08')).toBeUndefined());
  test('services refuse to start in production with a development secret (router/history serviceAuth, ingest-chat config)', async () => {
    const { serviceAuth, AuthEnv } = await import('@omni/auth');
    const { readConfig: chatConfig } = await import('@omni/ingest-chat/src/config');
    const defaults = Object.fromEntries(Object.entries(AuthEnv).map(([k, v]) => [k, (v as { default: unknown }).default])) as never as Parameters<typeof serviceAuth>[0];
    const silent = { warn: () => undefined };
    expect(() => serviceAuth({ ...defaults, JWT_SECRET: 'dev-router-jwt-secret-change-me' }, silent, { NODE_ENV: 'production' })).toThrow(/JWT_SECRET is shorter than 32/);
    expect(() => serviceAuth({ ...defaults, JWT_SECRET: '' }, silent, { OMNI_PRODUCTION: 'true' })).toThrow(/JWT_SECRET is not set/);
    expect(() => serviceAuth({ ...defaults, JWT_SECRET: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c' }, silent, { NODE_ENV: 'production' })).not.toThrow();
    expect(() => chatConfig({ NODE_ENV: 'production', JWT_SECRET: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c' })).toThrow(/CHAT_SESSION_SECRET/);
    expect(() => chatConfig({})).not.toThrow();
  });
  test('only production mode refuses', () => {
    expect(() => assertProductionSecrets({ JWT_SECRET: 'x' }, {})).not.toThrow();
    expect(() => assertProductionSecrets({ JWT_SECRET: 'x' }, { NODE_ENV: 'production' })).toThrow(/JWT_SECRET is shorter/);
    expect(() => assertProductionSecrets({ JWT_SECRET: '' }, { OMNI_PRODUCTION: 'true' })).toThrow(/JWT_SECRET is not set/);
  });
});

describe('CSAT tokens', () => {
  const key = csatKey(SECRET);
  test('round trip, expiry, another key, an access token is not a CSAT token', async () => {
    const t = mintCsatToken(key, 'conv-1', 'evt-1', new Date(), 3600);
    await expect(verifyCsatToken(key, t)).resolves.toBe('conv-1');
    await expect(verifyCsatToken(key, mintCsatToken(key, 'conv-1', 'evt-1', new Date(Date.now() - 7200_000), 3600))).rejects.toThrow();
    await expect(verifyCsatToken(csatKey('another-secret-0123456789abcdefgh'), t)).rejects.toThrow();
    await expect(verifyCsatToken(key, mintAccessToken(SECRET, { sub: 'conv-1', role: 'admin' }, 60))).rejects.toThrow();
    // deterministic from the resolve event: the router's decisions stay a function of their inputs
    const at = new Date('2026-01-01T00:00:00Z');
    expect(mintCsatToken(key, 'c', 'e', at, 60)).toBe(mintCsatToken(key, 'c', 'e', at, 60));
  });
});

describe('passwords (argon2id)', () => {
  test('verify accepts the password and nothing else; unknown user is no', async () => {
    const h = await hashPassword('correct horse battery staple');
    expect(h.startsWith('$argon2id$')).toBe(true);
    expect(await verifyPassword(h, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(h, 'correct horse battery stapl')).toBe(false);
    expect(await verifyPassword(undefined, 'anything')).toBe(false);
    expect(await verifyPassword('not-a-hash', 'anything')).toBe(false);
  });
});

describe('route guard', () => {
  const logger = pino({ level: 'silent' });
  test('a route without an auth declaration is refused at registration (fail closed)', async () => {
    const app = await createHttpApp({ name: 't', logger, ...defaultServiceAuth(logger).http });
    expect(() => app.get('/v1/forgotten', async () => ({}))).toThrow(/declares no config.auth/);
    await app.close();
  });
  test('a scope default declares its routes; roles routes answer 401/403/200', async () => {
    const verifier = new TokenVerifier(SECRET);
    const app = await createHttpApp({ name: 't', logger, guard: routeGuard({ verifier, publicRateLimit: { max: 3, maxPerCredential: 5, timeWindowMs: 60_000 } }) });
    await app.register(async (s) => {
      declareRouteAuth(s, publicRoute('test'));
      s.get('/open', async () => ({ ok: true }));
    });
    app.get('/sup', { config: { auth: { roles: ['supervisor'] } } }, async (req) => ({ sub: req.principal?.sub }));
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    // real sockets (light-my-request's cookie dependency is ESM-only, which jest cannot load)
    const call = async (url: string, headers: Record<string, string> = {}) => {
      const r = await fetch(base + url, { headers });
      return { statusCode: r.status, headers: Object.fromEntries(r.headers), body: (await r.json()) as Record<string, unknown> };
    };
    const bearer = (role: Role) => ({ authorization: `Bearer ${mintAccessToken(SECRET, { sub: `${role}-1`, role }, 60)}` });
    expect((await call('/sup')).statusCode).toBe(401);
    expect((await call('/sup', bearer('agent'))).statusCode).toBe(403);
    expect((await call('/sup', bearer('supervisor'))).body).toEqual({ sub: 'supervisor-1' });
    expect((await call('/sup', bearer('admin'))).statusCode).toBe(200);
    // public routes: limited per caller, 429 with Retry-After, counted
    for (let i = 0; i < 3; i++) expect((await call('/open')).statusCode).toBe(200);
    const limited = await call('/open');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ error: 'TOO_MANY_REQUESTS' });
    expect(await app.metrics.metrics()).toMatch(/http_rate_limited_total\{route="\/open",limit="public",service="t"\} 1/);
    // an API key is its own caller, with the credential budget
    for (let i = 0; i < 5; i++) expect((await call('/open', { 'x-api-key': 'k1' })).statusCode).toBe(200);
    expect((await call('/open', { 'x-api-key': 'k1' })).statusCode).toBe(429);
    expect((await call('/open', { 'x-api-key': 'k2' })).statusCode).toBe(200);
    await app.close();
  });
});

describe('behind a proxy', () => {
  test('TRUST_PROXY=<proxy address> makes X-Forwarded-For the client IP for per-IP limits; without it the peer is', async () => {
    const logger = pino({ level: 'silent' });
    const { AuthEnv, serviceAuth } = await import('@omni/auth');
    const defaults = Object.fromEntries(Object.entries(AuthEnv).map(([k, v]) => [k, (v as { default: unknown }).default])) as never as Parameters<typeof serviceAuth>[0];
    const ipSeen = async (trust: string) => {
      const app = await createHttpApp({ name: 't', logger, ...serviceAuth({ ...defaults, TRUST_PROXY: trust }, logger, {}).http });
      app.get('/ip', { config: { auth: publicRoute('test') } }, async (req) => ({ ip: req.ip }));
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      const body = (await (await fetch(`${base}/ip`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).json()) as { ip: string };
      await app.close();
      return body.ip;
    };
    expect(await ipSeen('127.0.0.1')).toBe('203.0.113.9');
    expect(await ipSeen('10.0.0.0/8')).toBe('127.0.0.1'); // a peer that is not a trusted proxy cannot spoof
    expect(await ipSeen('')).toBe('127.0.0.1');
  });
});
