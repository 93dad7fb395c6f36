import { createHash, createHmac } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ROLES, type Principal, type Role } from './roles';

/** The `iss` of tokens we sign ourselves (sign-in, refresh, router:token). */
export const LOCAL_ISSUER = 'omni';
const AUDIENCE = 'omni-api';

const keyOf = (secret: string) => new TextEncoder().encode(secret);

export interface AccessClaims {
  sub: string;
  role: Role;
  scopes?: string[];
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Signs a compact HS256 JWT (synchronous, so callers such as test harnesses and the CLI need no await); verification uses jose. */
export function signHs256(payload: Record<string, unknown>, key: Uint8Array | string): string {
  const head = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}

/**
 * Signs an access token (HS256 with JWT_SECRET, iss "omni", aud "omni-api"). Used by sign-in and
 * refresh, by `npm run router:token` and by tests.
 */
export function mintAccessToken(secret: string, claims: AccessClaims, ttlSeconds: number, now = new Date()): string {
  const iat = Math.floor(now.getTime() / 1000);
  return signHs256(
    { sub: claims.sub, role: claims.role, ...(claims.scopes?.length ? { scopes: claims.scopes } : {}), iss: LOCAL_ISSUER, aud: AUDIENCE, iat, exp: iat + ttlSeconds },
    keyOf(secret),
  );
}

export interface OidcSettings {
  /** the provider's `iss`, e.g. https://login.example.com/realms/support */
  issuer: string;
  /** where its signing keys are published (JWKS) */
  jwksUrl: string;
  /** expected `aud`; empty = not checked */
  audience?: string;
  /** claim holding the role or groups, dotted path allowed (e.g. "realm_access.roles") */
  roleClaim: string;
  /** provider value → our role, e.g. {"support-admins":"admin","support-agents":"agent"} */
  roleMap: Record<string, Role>;
  /** claim used as our subject (for agents it must equal the router's agent id) */
  subjectClaim: string;
}

export class TokenError extends Error {}

function claimAt(payload: JWTPayload, path: string): unknown {
  let cur: unknown = payload;
  for (const part of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
  return cur;
}

// When a person's provider claim maps to several of our roles, the strongest wins.
const STRENGTH: Role[] = ['admin', 'supervisor', 'agent', 'service'];

/** Maps an OIDC token's role claim (string or array) through roleMap; undefined if nothing maps. */
export function mapOidcRole(payload: JWTPayload, s: Pick<OidcSettings, 'roleClaim' | 'roleMap'>): Role | undefined {
  const raw = claimAt(payload, s.roleClaim);
  const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
  const mapped = values.map((v) => s.roleMap[v]).filter((r): r is Role => !!r && (ROLES as readonly string[]).includes(r));
  return STRENGTH.find((r) => mapped.includes(r));
}

/**
 * Verifies bearer tokens: our own HS256 tokens, and (when configured) an OIDC provider's tokens
 * against its JWKS (fetched and cached by jose, refetched on an unknown key id).
 */
export class TokenVerifier {
  private readonly key: Uint8Array;
  private readonly jwks?: JWTVerifyGetKey;

  constructor(
    secret: string,
    private readonly oidc?: OidcSettings,
  ) {
    this.key = keyOf(secret);
    if (oidc) this.jwks = createRemoteJWKSet(new URL(oidc.jwksUrl), { cooldownDuration: 30_000, timeoutDuration: 5_000 });
  }

  /** The principal a token proves; throws TokenError (expired, forged, unknown issuer, no role). */
  async verify(token: string): Promise<Principal> {
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new TokenError('malformed token');
    }
    if (this.oidc && this.jwks && iss === this.oidc.issuer) return this.verifyOidc(token, this.oidc, this.jwks);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: LOCAL_ISSUER, audience: AUDIENCE }));
    } catch (err) {
      throw new TokenError(`invalid token: ${(err as Error).message}`);
    }
    const role = payload.role as Role;
    if (!payload.sub || !(ROLES as readonly string[]).includes(role)) throw new TokenError('token carries no subject or role');
    const scopes = Array.isArray(payload.scopes) ? payload.scopes.filter((s): s is string => typeof s === 'string') : [];
    return { sub: payload.sub, role, scopes, issuer: 'local' };
  }

  private async verifyOidc(token: string, s: OidcSettings, jwks: JWTVerifyGetKey): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: s.issuer,
        ...(s.audience ? { audience: s.audience } : {}),
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'],
      }));
    } catch (err) {
      throw new TokenError(`invalid identity-provider token: ${(err as Error).message}`);
    }
    const sub = claimAt(payload, s.subjectClaim);
    const role = mapOidcRole(payload, s);
    if (typeof sub !== 'string' || !sub) throw new TokenError(`identity-provider token has no ${s.subjectClaim} claim`);
    if (!role || role === 'service') throw new TokenError(`identity-provider token's ${s.roleClaim} maps to no role`);
    return { sub, role, scopes: [], issuer: 'oidc' };
  }
}

/** SHA-256 of an opaque token (refresh tokens are stored only as this digest). */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
