/**
 * Who is signed in: the router's access and refresh tokens (POST /router/v1/auth/…), kept in
 * sessionStorage so a reload keeps the session but closing the tab ends it. The access token lives
 * 15 minutes: it is refreshed a minute before it expires, and before any call when it is stale.
 */
export interface Account { id: string; username: string; role: 'admin' | 'supervisor' | 'agent' }
interface Stored { accessToken: string; refreshToken: string; expiresAt: number; account: Account }

const KEY = 'omni.session';
let current: Stored | null = (() => {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Stored | null;
  } catch {
    return null;
  }
})();
let refreshing: Promise<void> | null = null;

function save(s: Stored | null) {
  current = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

async function parse(r: Response): Promise<unknown> {
  const text = await r.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!r.ok) {
    const b = body as { error?: string; message?: string } | null;
    throw new ApiError(r.status, b?.error ?? String(r.status), b?.message ?? r.statusText);
  }
  return body;
}

function keep(body: { accessToken: string; refreshToken: string; expiresIn: number; account: Account }) {
  save({ accessToken: body.accessToken, refreshToken: body.refreshToken, expiresAt: Date.now() + body.expiresIn * 1000, account: body.account });
}

export const account = () => current?.account ?? null;

export async function signIn(username: string, password: string): Promise<Account> {
  const r = await fetch('/router/v1/auth/sign-in', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await parse(r)) as { account: Account };
  // the router's answer names the account by id and role; the banner shows what the person typed
  keep({ ...body, account: { ...body.account, username } } as never);
  return current!.account;
}

export async function signOut(): Promise<void> {
  const s = current;
  save(null);
  if (s) await fetch('/router/v1/auth/sign-out', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: s.refreshToken }) }).catch(() => undefined);
}

async function refresh(): Promise<void> {
  const s = current;
  if (!s) throw new ApiError(401, 'UNAUTHORIZED', 'not signed in');
  const r = await fetch('/router/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: s.refreshToken }) });
  if (r.status === 401 || r.status === 403) {
    save(null);
    location.assign('/');
  }
  const body = (await parse(r)) as { account: Account };
  keep({ ...body, account: { ...body.account, username: s.account.username } } as never);
}

/** A valid access token (refreshed first when it expires within a minute). */
export async function accessToken(): Promise<string> {
  if (!current) throw new ApiError(401, 'UNAUTHORIZED', 'not signed in');
  if (current.expiresAt - Date.now() < 60_000) await (refreshing ??= refresh().finally(() => (refreshing = null)));
  return current!.accessToken;
}

/** A JSON call to the router (/router/…) or history (/history/…) through the console's proxy. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const token = await accessToken();
  const r = await fetch(path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return (await parse(r)) as T;
}
