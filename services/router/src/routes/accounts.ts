import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from 'pg';
import { Type, type Static } from '@sinclair/typebox';
import { HUMAN_ROLES, originOf, principalOf } from '@omni/auth';
import { AppError } from '@omni/service';
import { NO_NUL } from './auth';
import { createAccount, getAccount, listAccounts, resetPassword, updateAccount } from '../store/accounts';

const HumanRole = Type.Union(HUMAN_ROLES.map((r) => Type.Literal(r)));
/** at least 12 characters (NIST SP 800-63B asks ≥ 8 and favours length); no composition rules */
export const Password = Type.String({ minLength: 12, maxLength: 1024 });
const AccountId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._@-]+$' }) });
const Account = Type.Object(
  {
    id: Type.String({ description: 'token subject; for agents, the router agent id' }),
    username: Type.String(),
    role: Type.String(),
    disabled: Type.Boolean(),
    lockedUntil: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Account' },
);
const CreateBody = Type.Object(
  { id: AccountId.properties.id, username: Type.String({ minLength: 1, maxLength: 320, pattern: NO_NUL }), role: HumanRole, password: Password },
  { additionalProperties: false },
);
const PatchBody = Type.Object({ role: Type.Optional(HumanRole), disabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 });
const admin = { auth: { roles: [] } } as const; // admin only (admin passes every declaration)

/** Accounts of people who sign in: admins create them, change roles, disable them and reset passwords. */
export const accountRoutes: FastifyPluginAsync<{ pool: Pool }> = async (app, { pool }) => {
  app.post<{ Body: Static<typeof CreateBody> }>(
    '/v1/accounts',
    { config: admin, schema: { summary: 'Create an account (admins)', body: CreateBody, response: { 201: Account, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req, reply) => {
      const r = await createAccount(pool, req.body, principalOf(req), originOf(req));
      if (!r.ok) throw new AppError('CONFLICT', `an account with this ${r.conflict} exists`, [{ field: `body.${r.conflict}`, reason: 'taken' }]);
      return reply.status(201).send(r.account);
    },
  );
  app.get('/v1/accounts', { config: admin, schema: { summary: 'List accounts (admins)', response: { 200: Type.Object({ accounts: Type.Array(Account) }) } } }, async () => ({
    accounts: await listAccounts(pool),
  }));
  app.get<{ Params: Static<typeof AccountId> }>(
    '/v1/accounts/:id',
    { config: admin, schema: { summary: 'One account (admins)', params: AccountId, response: { 200: Account, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req) => {
      const a = await getAccount(pool, req.params.id);
      if (!a) throw new AppError('NOT_FOUND', `account ${req.params.id} not found`);
      return a;
    },
  );
  app.patch<{ Params: Static<typeof AccountId>; Body: Static<typeof PatchBody> }>(
    '/v1/accounts/:id',
    { config: admin, schema: { summary: 'Change role or disable (ends the account\'s sessions)', params: AccountId, body: PatchBody, response: { 200: Account, '4xx': { $ref: 'ErrorBody#' } } } },
    async (req) => {
      const a = await updateAccount(pool, req.params.id, req.body, principalOf(req), originOf(req));
      if (!a) throw new AppError('NOT_FOUND', `account ${req.params.id} not found`);
      return a;
    },
  );
  app.put<{ Params: Static<typeof AccountId>; Body: { password: string } }>(
    '/v1/accounts/:id/password',
    {
      config: admin,
      schema: { summary: 'Reset a password (ends the account\'s sessions, clears a lock-out)', params: AccountId, body: Type.Object({ password: Password }, { additionalProperties: false }), response: { 204: Type.Null(), '4xx': { $ref: 'ErrorBody#' } } },
    },
    async (req, reply) => {
      if (!(await resetPassword(pool, req.params.id, req.body.password, principalOf(req), originOf(req)))) throw new AppError('NOT_FOUND', `account ${req.params.id} not found`);
      return reply.status(204).send();
    },
  );
};
