import { hkdfSync } from 'node:crypto';
import { jwtVerify } from 'jose';
import { signHs256 } from './tokens';

const AUDIENCE = 'omni-csat';

/** The CSAT token key, derived from JWT_SECRET so router (issuer) and history (verifier) share it without another secret. */
export function csatKey(jwtSecret: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', jwtSecret, 'omni', 'csat-token-v1', 32));
}

/**
 * Signs the token a customer uses to answer CSAT for one conversation. Deterministic from the
 * resolve event (id, time), so the router's decisions stay a function of their inputs; single use
 * is enforced by history (one answer per conversation).
 */
export function mintCsatToken(key: Uint8Array, conversationId: string, resolveEventId: string, resolvedAt: Date, ttlSeconds: number): string {
  const iat = Math.floor(resolvedAt.getTime() / 1000);
  return signHs256({ sub: conversationId, jti: resolveEventId, aud: AUDIENCE, iat, exp: iat + ttlSeconds }, key);
}

/** The conversation id a CSAT token is for; throws if forged, expired or for another purpose. */
export async function verifyCsatToken(key: Uint8Array, token: string): Promise<string> {
  const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], audience: AUDIENCE });
  if (!payload.sub) throw new Error('csat token has no conversation');
  return payload.sub;
}
