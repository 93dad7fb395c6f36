import { randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '@omni/db';
import { hashPassword, mintAccessToken, recordAudit, tokenDigest, verifyPassword, type HumanRole, type Principal, type RequestOrigin } from '@omni/auth';

export interface AccountView {
  id: string;
  username: string;
  role: HumanRole;
  disabled: boolean;
  lockedUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface SessionSettings {
  jwtSecret: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  maxFailures: number;
  lockoutMs: number;
}

export interface IssuedSession {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  account: { id: string; role: HumanRole };
}

const COLUMNS = 'id, username, role, disabled, locked_until, created_at, updated_at';
function view(r: Record<string, unknown>): AccountView {
  return {
    id: r.id as string,
    username: r.username as string,
    role: r.role as HumanRole,
    disabled: r.disabled as boolean,
    lockedUntil: r.locked_until ? (r.locked_until as Date).toISOString() : null,
    createdAt: (r.created_at as Date).toISOString(),
    updatedAt: (r.updated_at as Date).toISOString(),
  };
}

/** Usernames compare case-insensitively (NFKC, lower-cased, trimmed). */
export const normalizeUsername = (u: string) => u.normalize('NFKC').trim().toLowerCase();

export async function listAccounts(pool: Pool): Promise<AccountView[]> {
  return (await pool.query(`SELECT ${COLUMNS} FROM router.accounts ORDER BY id`)).rows.map(view);
}

export async function getAccount(db: Pick<Pool | PoolClient, 'query'>, id: string, lock = false): Promise<AccountView | undefined> {
  const r = (await db.query(`SELECT ${COLUMNS} FROM router.accounts WHERE id = $1::text${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0];
  return r ? view(r) : undefined;
}

export type CreateResult = { ok: true; account: AccountView } | { ok: false; conflict: 'id' | 'username' };

/** Creates an account (audited in the same transaction). */
export async function createAccount(pool: Pool, input: { id: string; username: string; role: HumanRole; password: string }, actor: AuditActor, origin?: RequestOrigin): Promise<CreateResult> {
  const hash = await hashPassword(input.password);
  return withTransaction(pool, async (c) => {
    const r = await c.query(
      `INSERT INTO router.accounts (id, username, role, password_hash) VALUES ($1::text, $2::text, $3::text, $4::text)
       ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
      [input.id, normalizeUsername(input.username), input.role, hash],
    );
    if (!r.rows[0]) {
      const byId = await c.query('SELECT 1 FROM router.accounts WHERE id = $1::text', [input.id]);
      return { ok: false, conflict: byId.rowCount ? 'id' : 'username' } as const;
    }
    const account = view(r.rows[0]);
    await recordAudit(c, 'router', { actor, action: 'account.create', target: { type: 'account', id: account.id }, after: { username: account.username, role: account.role }, ...(origin ? { origin } : {}) });
    return { ok: true, account } as const;
  });
}

export type AuditActor = Pick<Principal, 'sub' | 'role'> & { issuer?: Principal['issuer'] | 'cli' };

/** Changes role and/or disabled; either change ends the account's sessions (refresh tokens revoked). */
export async function updateAccount(pool: Pool, id: string, patch: { role?: HumanRole; disabled?: boolean }, actor: AuditActor, origin: RequestOrigin): Promise<AccountView | undefined> {
  return withTransaction(pool, async (c) => {
    const before = await getAccount(c, id, true);
    if (!before) return undefined;
    const r = await c.query(
      `UPDATE router.accounts SET role = COALESCE($2::text, role), disabled = COALESCE($3::boolean, disabled), updated_at = now() WHERE id = $1::text RETURNING ${COLUMNS}`,
      [id, patch.role ?? null, patch.disabled ?? null],
    );
    const after = view(r.rows[0]);
    if (after.role !== before.role || after.disabled !== before.disabled) await revokeAccountTokens(c, id);
    await recordAudit(c, 'router', {
      actor,
      action: after.role !== before.role ? 'account.role-change' : 'account.update',
      target: { type: 'account', id },
      before: { role: before.role, disabled: before.disabled },
      after: { role: after.role, disabled: after.disabled },
      origin,
    });
    return after;
  });
}

/** Sets a new password, clears any lock-out and ends the account's sessions. */
export async function resetPassword(pool: Pool, id: string, password: string, actor: AuditActor, origin?: RequestOrigin): Promise<boolean> {
  const hash = await hashPassword(password);
  return withTransaction(pool, async (c) => {
    const r = await c.query(
      `UPDATE router.accounts SET password_hash = $2::text, failed_attempts = 0, locked_until = NULL, password_changed_at = now(), updated_at = now() WHERE id = $1::text`,
      [id, hash],
    );
    if (!r.rowCount) return false;
    await revokeAccountTokens(c, id);
    await recordAudit(c, 'router', { actor, action: 'account.password-reset', target: { type: 'account', id }, ...(origin ? { origin } : {}) });
    return true;
  });
}

async function revokeAccountTokens(c: PoolClient, accountId: string): Promise<void> {
  await c.query('UPDATE router.refresh_tokens SET revoked_at = now() WHERE account_id = $1::text AND revoked_at IS NULL', [accountId]);
}

async function issue(c: PoolClient, s: SessionSettings, account: { id: string; role: HumanRole }, family: string): Promise<IssuedSession> {
  const refreshToken = randomBytes(32).toString('base64url');
  await c.query(
    `INSERT INTO router.refresh_tokens (digest, account_id, family, expires_at) VALUES ($1::text, $2::text, $3::text, now() + make_interval(secs => $4::double precision))`,
    [tokenDigest(refreshToken), account.id, family, s.refreshTtlSeconds],
  );
  return {
    accessToken: mintAccessToken(s.jwtSecret, { sub: account.id, role: account.role }, s.accessTtlSeconds),
    refreshToken,
    tokenType: 'Bearer',
    expiresIn: s.accessTtlSeconds,
    account,
  };
}

export type SignInResult = { ok: true; session: IssuedSession } | { ok: false; reason: 'bad-credentials' } | { ok: false; reason: 'locked'; retryAfterSeconds: number };

/**
 * Password sign-in. Failures count on the account row (so every router replica sees the same
 * count); SIGNIN_MAX_FAILURES in a row lock it for SIGNIN_LOCKOUT_MS. Every attempt is audited.
 */
export async function signIn(pool: Pool, s: SessionSettings, username: string, password: string, origin: RequestOrigin): Promise<SignInResult> {
  const name = normalizeUsername(username);
  return withTransaction(pool, async (c) => {
    const row = (
      await c.query<{ id: string; role: HumanRole; password_hash: string; disabled: boolean; failed_attempts: number; lock_left_ms: number | null }>(
        `SELECT id, role, password_hash, disabled, failed_attempts,
                CASE WHEN locked_until > now() THEN ceil(extract(epoch FROM locked_until - now()) * 1000)::float8 END AS lock_left_ms
           FROM router.accounts WHERE username = $1::text FOR UPDATE`,
        [name],
      )
    ).rows[0];
    const target = { type: 'account', id: row?.id ?? name };
    if (row?.lock_left_ms) {
      await recordAudit(c, 'router', { actor: { sub: name }, action: 'auth.sign-in', outcome: 'denied', target, after: { reason: 'locked' }, origin });
      return { ok: false, reason: 'locked', retryAfterSeconds: Math.max(1, Math.ceil(row.lock_left_ms / 1000)) } as const;
    }
    const good = await verifyPassword(row?.password_hash, password);
    if (!row || !good || row.disabled) {
      let locked = false;
      if (row && !good) {
        const failures = row.failed_attempts + 1;
        locked = failures >= s.maxFailures;
        await c.query(
          `UPDATE router.accounts SET failed_attempts = $2::int, locked_until = CASE WHEN $3::boolean THEN now() + make_interval(secs => $4::double precision) ELSE locked_until END WHERE id = $1::text`,
          [row.id, locked ? 0 : failures, locked, s.lockoutMs / 1000],
        );
      }
      const reason = !row ? 'unknown-username' : row.disabled && good ? 'disabled' : 'bad-password';
      await recordAudit(c, 'router', { actor: { sub: name }, action: 'auth.sign-in', outcome: 'failed', target, after: { reason, ...(locked ? { locked: true } : {}) }, origin });
      if (locked) await recordAudit(c, 'router', { actor: null, action: 'account.lock', target, after: { lockoutMs: s.lockoutMs }, origin });
      return { ok: false, reason: 'bad-credentials' } as const;
    }
    if (row.failed_attempts) await c.query('UPDATE router.accounts SET failed_attempts = 0 WHERE id = $1::text', [row.id]);
    const session = await issue(c, s, { id: row.id, role: row.role }, randomBytes(12).toString('base64url'));
    await recordAudit(c, 'router', { actor: { sub: row.id, role: row.role, issuer: 'local' }, action: 'auth.sign-in', target, origin });
    return { ok: true, session } as const;
  });
}

export type RefreshResult = { ok: true; session: IssuedSession } | { ok: false; reason: 'invalid' | 'reused' };

/** Rotates a refresh token: the presented one is used up, a new one in the same family is issued. */
export async function refresh(pool: Pool, s: SessionSettings, refreshToken: string, origin: RequestOrigin): Promise<RefreshResult> {
  return withTransaction(pool, async (c) => {
    const t = (
      await c.query<{ account_id: string; family: string; used: boolean; revoked: boolean; expired: boolean; role: HumanRole; disabled: boolean }>(
        `SELECT t.account_id, t.family, t.used_at IS NOT NULL AS used, t.revoked_at IS NOT NULL AS revoked, t.expires_at <= now() AS expired, a.role, a.disabled
           FROM router.refresh_tokens t JOIN router.accounts a ON a.id = t.account_id WHERE t.digest = $1::text FOR UPDATE OF t`,
        [tokenDigest(refreshToken)],
      )
    ).rows[0];
    if (!t) return { ok: false, reason: 'invalid' } as const;
    const target = { type: 'account', id: t.account_id };
    if (t.used && !t.revoked) {
      // a used-up token shown again: someone holds a copy; end the whole session
      await c.query('UPDATE router.refresh_tokens SET revoked_at = now() WHERE family = $1::text AND revoked_at IS NULL', [t.family]);
      await recordAudit(c, 'router', { actor: { sub: t.account_id, role: t.role }, action: 'auth.refresh', outcome: 'denied', target, after: { reason: 'reused token, session revoked' }, origin });
      return { ok: false, reason: 'reused' } as const;
    }
    if (t.used || t.revoked || t.expired || t.disabled) return { ok: false, reason: 'invalid' } as const;
    await c.query('UPDATE router.refresh_tokens SET used_at = now() WHERE digest = $1::text', [tokenDigest(refreshToken)]);
    return { ok: true, session: await issue(c, s, { id: t.account_id, role: t.role }, t.family) } as const;
  });
}

/** Sign-out: revokes the refresh token's whole session (family). Returns false for an unknown token. */
export async function signOut(pool: Pool, refreshToken: string, origin: RequestOrigin): Promise<boolean> {
  return withTransaction(pool, async (c) => {
    const r = await c.query<{ account_id: string; role: string }>(
      `UPDATE router.refresh_tokens t SET revoked_at = now() FROM router.accounts a
        WHERE t.family = (SELECT family FROM router.refresh_tokens WHERE digest = $1::text) AND t.revoked_at IS NULL AND a.id = t.account_id
        RETURNING t.account_id, a.role`,
      [tokenDigest(refreshToken)],
    );
    const known = await c.query<{ account_id: string }>('SELECT account_id FROM router.refresh_tokens WHERE digest = $1::text', [tokenDigest(refreshToken)]);
    const accountId = known.rows[0]?.account_id;
    if (!accountId) return false;
    await recordAudit(c, 'router', { actor: { sub: accountId, ...(r.rows[0] ? { role: r.rows[0].role as HumanRole } : {}) } as AuditActor, action: 'auth.sign-out', target: { type: 'account', id: accountId }, after: { revoked: r.rowCount }, origin });
    return true;
  });
}
