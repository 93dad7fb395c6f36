import { mintAccessToken, type Role } from '@omni/auth';

/** The JWT_SECRET test services share (router and history verify the same key). */
export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdefghijkl';

/** A valid access token for a test caller (12 h, like `npm run router:token`). */
export function testToken(role: Role, sub = `test-${role}`, scopes?: string[]): string {
  return mintAccessToken(TEST_JWT_SECRET, { sub, role, ...(scopes ? { scopes } : {}) }, 12 * 3600);
}

/** `Authorization` header for a test caller. */
export function bearer(role: Role, sub?: string): { authorization: string } {
  return { authorization: `Bearer ${testToken(role, sub)}` };
}
