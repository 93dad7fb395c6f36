import type { FastifyInstance, FastifyRequest } from 'fastify';
import jwt from '@fastify/jwt';
import { AppError } from '@omni/service';
import type { Role, TokenClaims } from './tokens';

// No `declare module '@fastify/jwt'` augmentation: it is global to the program and would also retype
// ingest-chat's visitor tokens. The router reads its claims through claimsOf() instead.

/** The verified claims of a request that passed requireRole. */
export function claimsOf(req: FastifyRequest): TokenClaims {
  return req.user as TokenClaims;
}

/** Registers @fastify/jwt (HS256, JWT_SECRET) on the app. */
export async function registerJwt(app: FastifyInstance, secret: string): Promise<void> {
  await app.register(jwt, { secret });
}

/** Verifies the bearer token and its role; 401 without a valid token, 403 with the wrong role. */
export function requireRole(role: Role) {
  return async (req: FastifyRequest): Promise<void> => {
    try {
      await req.jwtVerify();
    } catch {
      throw new AppError('UNAUTHORIZED', 'a valid bearer token is required');
    }
    if (claimsOf(req).role !== role) throw new AppError('FORBIDDEN', `this needs the ${role} role`);
  };
}

/** Verifies a token passed out of band (the websocket query string); throws 401/403 like requireRole. */
export function verifyToken(app: FastifyInstance, token: string | undefined, role: Role): TokenClaims {
  if (!token) throw new AppError('UNAUTHORIZED', 'token query parameter is required');
  let claims: TokenClaims;
  try {
    claims = app.jwt.verify<TokenClaims>(token);
  } catch {
    throw new AppError('UNAUTHORIZED', 'invalid or expired token');
  }
  if (claims.role !== role || typeof claims.sub !== 'string' || !claims.sub) throw new AppError('FORBIDDEN', `this needs the ${role} role`);
  return claims;
}
