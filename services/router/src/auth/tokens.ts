import { createHmac, randomBytes } from 'node:crypto';

export type Role = 'admin' | 'agent';

export interface TokenClaims {
  sub: string;
  role: Role;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * Mints an HS256 JWT (what @fastify/jwt verifies) for an admin or an agent. Used by
 * `npm run router:token` and by tests; production would get these from the identity provider.
 */
export function mintToken(secret: string, claims: TokenClaims, ttlSeconds = 12 * 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ ...claims, iat: now, exp: now + ttlSeconds }));
  const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

/** A random secret for a router started without JWT_SECRET (dev only: tokens die with the process). */
export function ephemeralSecret(): string {
  return randomBytes(32).toString('hex');
}
