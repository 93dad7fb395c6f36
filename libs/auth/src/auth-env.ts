import { Type } from '@sinclair/typebox';
import { ConfigError, splitList } from '@omni/config';
import type { Logger } from '@omni/logging';
import { ROLES, restrictable, type Role, type RouteAuth } from './roles';
import { routeGuard } from './route-guard';
import { assertProductionSecrets } from './secrets';
import { TokenVerifier, type OidcSettings } from './tokens';
import { randomBytes } from 'node:crypto';

/** Env every service with HTTP routes reads for access control (docs/access-control.md). */
export const AuthEnv = {
  /** HS256 key of access tokens (shared by every service that verifies them); empty = random per process, dev only */
  JWT_SECRET: Type.String({ default: '' }),
  /** OIDC: accept tokens issued by this `iss`, verified against OIDC_JWKS_URL; empty = local tokens only */
  OIDC_ISSUER: Type.String({ default: '' }),
  OIDC_JWKS_URL: Type.String({ default: '' }),
  OIDC_AUDIENCE: Type.String({ default: '' }),
  /** claim holding the provider's role(s) or group(s); dotted path, e.g. realm_access.roles */
  OIDC_ROLE_CLAIM: Type.String({ default: 'roles' }),
  /** providerValue:role pairs, e.g. "support-admins:admin,support-agents:agent" */
  OIDC_ROLE_MAP: Type.String({ default: '' }),
  OIDC_SUBJECT_CLAIM: Type.String({ default: 'sub' }),
  /** who may read /metrics and /openapi.json: public, or token (admin, supervisor, service token with metrics:read / openapi:read) */
  METRICS_AUTH: Type.Union([Type.Literal('public'), Type.Literal('token')], { default: 'public' }),
  OPENAPI_AUTH: Type.Union([Type.Literal('public'), Type.Literal('token')], { default: 'public' }),
  /** requests per minute one IP may make to one public route of one replica (callers without an API key or session token; providers' webhooks come from few IPs) */
  PUBLIC_RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 6000, minimum: 1 }),
  /** requests per minute one adapter API key or visitor session token may make to one public route of one replica */
  CREDENTIAL_RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 120_000, minimum: 1 }),
  /** behind a load balancer: the proxies' addresses/CIDRs ("10.0.0.0/8,127.0.0.1") whose X-Forwarded-For is believed; empty = none, req.ip is the peer (fastify ignores hop counts: they cannot validate the peer) */
  TRUST_PROXY: Type.String({ default: '' }),
};

export interface AuthConfig {
  JWT_SECRET: string;
  OIDC_ISSUER: string;
  OIDC_JWKS_URL: string;
  OIDC_AUDIENCE: string;
  OIDC_ROLE_CLAIM: string;
  OIDC_ROLE_MAP: string;
  OIDC_SUBJECT_CLAIM: string;
  METRICS_AUTH: 'public' | 'token';
  OPENAPI_AUTH: 'public' | 'token';
  PUBLIC_RATE_LIMIT_PER_MINUTE: number;
  CREDENTIAL_RATE_LIMIT_PER_MINUTE: number;
  TRUST_PROXY: string;
}

/** Parses OIDC_* into settings (undefined when OIDC_ISSUER is empty); throws ConfigError naming the variable. */
export function oidcSettings(c: AuthConfig): OidcSettings | undefined {
  if (!c.OIDC_ISSUER) return undefined;
  if (!/^https?:\/\//.test(c.OIDC_JWKS_URL)) throw new ConfigError('invalid configuration: OIDC_JWKS_URL must be an http(s) URL when OIDC_ISSUER is set');
  const roleMap: Record<string, Role> = {};
  for (const pair of splitList(c.OIDC_ROLE_MAP)) {
    const i = pair.lastIndexOf(':');
    const role = pair.slice(i + 1) as Role;
    if (i <= 0 || !(ROLES as readonly string[]).includes(role) || role === 'service')
      throw new ConfigError(`invalid configuration: OIDC_ROLE_MAP entry '${pair.slice(0, 40)}' must be providerValue:admin|supervisor|agent`);
    roleMap[pair.slice(0, i)] = role;
  }
  if (!Object.keys(roleMap).length) throw new ConfigError('invalid configuration: OIDC_ROLE_MAP must map at least one provider value to a role when OIDC_ISSUER is set');
  return { issuer: c.OIDC_ISSUER, jwksUrl: c.OIDC_JWKS_URL, ...(c.OIDC_AUDIENCE ? { audience: c.OIDC_AUDIENCE } : {}), roleClaim: c.OIDC_ROLE_CLAIM, roleMap, subjectClaim: c.OIDC_SUBJECT_CLAIM };
}

export interface ServiceAuth {
  /** the HS256 key in use (JWT_SECRET, or a random one in development) */
  jwtSecret: string;
  verifier: TokenVerifier;
  /** createHttpApp's `guard`, `metricsAuth`, `openapiAuth` */
  http: { guard: ReturnType<typeof routeGuard>; metricsAuth: RouteAuth; openapiAuth: RouteAuth; trustProxy?: string[] };
}

/**
 * Everything a service needs for access control, from its validated config. In production mode it
 * refuses a missing, short or placeholder JWT_SECRET; in development an empty one becomes a random
 * per-process key (logged), so no token verifies across services or restarts.
 */
export function serviceAuth(c: AuthConfig, logger: Pick<Logger, 'warn'>, env: NodeJS.ProcessEnv = process.env): ServiceAuth {
  assertProductionSecrets({ JWT_SECRET: c.JWT_SECRET }, env);
  let jwtSecret = c.JWT_SECRET;
  if (!jwtSecret) {
    jwtSecret = randomBytes(32).toString('hex');
    logger.warn('JWT_SECRET is not set: using a random per-process key, no token from elsewhere will verify (development only)');
  }
  const verifier = new TokenVerifier(jwtSecret, oidcSettings(c));
  return {
    jwtSecret,
    verifier,
    http: {
      guard: routeGuard({ verifier, publicRateLimit: { max: c.PUBLIC_RATE_LIMIT_PER_MINUTE, maxPerCredential: c.CREDENTIAL_RATE_LIMIT_PER_MINUTE, timeWindowMs: 60_000 } }),
      metricsAuth: restrictable(c.METRICS_AUTH, 'Prometheus scrape', 'metrics:read'),
      openapiAuth: restrictable(c.OPENAPI_AUTH, 'API description', 'openapi:read'),
      ...(c.TRUST_PROXY ? { trustProxy: splitList(c.TRUST_PROXY) } : {}),
    },
  };
}

/** Access control with every default (a random key): for apps built by hand in tests; only public routes can be called. */
export function defaultServiceAuth(logger: Pick<Logger, 'warn'>): ServiceAuth {
  const defaults = Object.fromEntries(Object.entries(AuthEnv).map(([k, v]) => [k, (v as { default: unknown }).default])) as unknown as AuthConfig;
  return serviceAuth(defaults, logger, {});
}
