import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { originOf } from '@omni/auth';
import { AppError } from '@omni/service';
import { refresh, signIn, signOut, type SessionSettings } from '../store/accounts';

/** PostgreSQL text cannot hold NUL: refuse it at the edge (400 naming the field). */
export const NO_NUL = '^[^\\u0000]*$';

const Session = Type.Object(
  {
    accessToken: Type.String(),
    refreshToken: Type.String({ description: 'single use: POST /v1/auth/refresh returns the next one' }),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'access token lifetime in seconds' }),
    account: Type.Object({ id: Type.String(), role: Type.String() }),
  },
  { $id: 'AuthSession' },
);
const SignInBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 320, pattern: NO_NUL }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
const RefreshBody = Type.Object({ refreshToken: Type.String({ minLength: 16, maxLength: 256, pattern: '^[A-Za-z0-9_-]+$' }) }, { additionalProperties: false });

export interface AuthRouteOptions {
  pool: Pool;
  session: SessionSettings;
  /** sign-in attempts per IP per minute on one replica (the per-account lock-out is shared, in Postgres) */
  signInPerMinute: number;
}

/** Sign-in (password), refresh (rotation) and sign-out (revocation). Public: the credential is in the body. */
export const authRoutes: FastifyPluginAsync<AuthRouteOptions> = async (app, { pool, session, signInPerMinute }) => {
  app.post<{ Body: Static<typeof SignInBody> }>(
    '/v1/auth/sign-in',
    {
      config: { auth: { public: 'sign-in: the password is the credential', rateLimit: { max: signInPerMinute, timeWindowMs: 60_000, by: 'ip' } } },
      schema: { summary: 'Sign in with username and password: a short-lived access token and a refresh token', body: SignInBody, response: { 200: Session, '4xx': { $ref: 'ErrorBody#' } } },
    },
    async (req) => {
      const r = await signIn(pool, session, req.body.username, req.body.password, originOf(req));
      if (r.ok) return r.session;
      if (r.reason === 'locked') throw new AppError('TOO_MANY_REQUESTS', 'too many failed sign-ins: this account is locked for a while', undefined, r.retryAfterSeconds);
      throw new AppError('UNAUTHORIZED', 'unknown username or wrong password');
    },
  );
  app.post<{ Body: Static<typeof RefreshBody> }>(
    '/v1/auth/refresh',
    {
      config: { auth: { public: 'refresh: the refresh token is the credential', rateLimit: { max: signInPerMinute * 3, timeWindowMs: 60_000, by: 'ip' } } },
      schema: { summary: 'Exchange a refresh token for a new access token and the next refresh token', body: RefreshBody, response: { 200: Session, '4xx': { $ref: 'ErrorBody#' } } },
    },
    async (req) => {
      const r = await refresh(pool, session, req.body.refreshToken, originOf(req));
      if (r.ok) return r.session;
      throw new AppError('UNAUTHORIZED', r.reason === 'reused' ? 'refresh token already used: the session has been revoked, sign in again' : 'invalid, expired or revoked refresh token');
    },
  );
  app.post<{ Body: Static<typeof RefreshBody> }>(
    '/v1/auth/sign-out',
    {
      config: { auth: { public: 'sign-out: the refresh token is the credential', rateLimit: { max: signInPerMinute * 3, timeWindowMs: 60_000, by: 'ip' } } },
      schema: { summary: 'Revoke the session of this refresh token (access tokens expire on their own)', body: RefreshBody, response: { 204: Type.Null(), '4xx': { $ref: 'ErrorBody#' } } },
    },
    async (req, reply) => {
      if (!(await signOut(pool, req.body.refreshToken, originOf(req)))) throw new AppError('UNAUTHORIZED', 'unknown refresh token');
      return reply.status(204).send();
    },
  );
};
