/** The roles a person or machine token can carry (docs/access-control.md). */
export const ROLES = ['admin', 'supervisor', 'agent', 'service'] as const;
export type Role = (typeof ROLES)[number];
/** Roles a person can sign in with (service tokens are minted for integrations, never signed in). */
export const HUMAN_ROLES = ['admin', 'supervisor', 'agent'] as const;
export type HumanRole = (typeof HUMAN_ROLES)[number];

/** Who is calling: the verified claims of a bearer token. */
export interface Principal {
  /** subject: the account id (for agents, the router's agent id) or the service token's name */
  sub: string;
  role: Role;
  /** what a service token may do, e.g. "kpis:read"; empty for people */
  scopes: string[];
  /** 'local' = signed by us (sign-in or router:token); 'oidc' = the configured identity provider */
  issuer: 'local' | 'oidc';
}

/**
 * What every route must declare in `config.auth` (checked when the route registers):
 * - `{ public: why }`: no bearer token — health probes, or a route whose handler verifies its own
 *   credential (provider signature, adapter API key, visitor session, CSAT token, sign-in);
 * - `{ roles, scopes? }`: a bearer token with one of these roles (admin is always allowed); a
 *   service token also needs one of `scopes` when the route lists them. `tokenQuery` names a query
 *   parameter that may carry the token (websocket upgrades cannot set headers from a browser).
 */
export type RouteAuth =
  | { public: string; /** this route's own per-caller limit instead of the service's public one */ rateLimit?: { max: number; timeWindowMs: number; by?: 'ip' | 'caller' } }
  | { roles: readonly Role[]; scopes?: readonly string[]; tokenQuery?: string };

/** Declaration shorthands. */
export const publicRoute = (why: string): RouteAuth => ({ public: why });
export const rolesRoute = (roles: readonly Role[], scopes?: readonly string[]): RouteAuth => ({ roles, ...(scopes ? { scopes } : {}) });

/** Whether a principal passes a route's role declaration (admin passes every one). */
export function allows(decl: Exclude<RouteAuth, { public: string }>, p: Principal): boolean {
  if (p.role === 'admin') return true;
  if (!decl.roles.includes(p.role)) return false;
  if (p.role === 'service' && decl.scopes?.length) return decl.scopes.some((s) => p.scopes.includes(s));
  return true;
}

/** Parses METRICS_AUTH / OPENAPI_AUTH: "public", or "token" (admin, supervisor, or a service token with `scope`). */
export function restrictable(value: 'public' | 'token', what: string, scope: string): RouteAuth {
  return value === 'public' ? publicRoute(`${what} (set the variable to "token" to restrict it)`) : rolesRoute(['supervisor', 'service'], [scope]);
}
