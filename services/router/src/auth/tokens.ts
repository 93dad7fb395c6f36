import { mintAccessToken, type AccessClaims } from '@omni/auth';

export type { Role } from '@omni/auth';
export type TokenClaims = AccessClaims;

/**
 * Mints an access token for scripts and tests (`npm run router:token`); people get theirs from
 * POST /v1/auth/sign-in or the identity provider. Default lifetime 12 h.
 */
export function mintToken(secret: string, claims: TokenClaims, ttlSeconds = 12 * 3600): string {
  return mintAccessToken(secret, claims, ttlSeconds);
}
