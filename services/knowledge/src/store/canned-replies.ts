import type { Pool } from 'pg';
import { newId } from '@omni/contracts';
import { AppError } from '@omni/service';

export interface CannedReply {
  id: string;
  scope: 'personal' | 'team';
  owner: string;
  shortcut: string;
  language: string;
  title: string;
  body: string;
  createdBy: string;
  updatedAt: string;
}

const COLS = 'id, scope, owner, shortcut, language, title, body, created_by, updated_at';
const of = (r: Record<string, unknown>): CannedReply => ({
  id: r.id as string,
  scope: r.scope as CannedReply['scope'],
  owner: r.owner as string,
  shortcut: r.shortcut as string,
  language: r.language as string,
  title: r.title as string,
  body: r.body as string,
  createdBy: r.created_by as string,
  updatedAt: (r.updated_at as Date).toISOString(),
});

/** Who asks: personal replies are their owner's alone; team replies everyone's to read, supervisors' to write. */
export interface Caller {
  id: string;
  mayManageTeam: boolean;
}

const conflict = () => new AppError('CONFLICT', 'a reply with this shortcut and language exists', [{ field: 'body.shortcut', reason: 'taken in this scope and language' }]);

export async function createCannedReply(pool: Pool, input: { scope: 'personal' | 'team'; team?: string; shortcut: string; language: string; title: string; body: string }, caller: Caller): Promise<CannedReply> {
  if (input.scope === 'team' && !caller.mayManageTeam) throw new AppError('FORBIDDEN', 'only supervisors and admins write team replies');
  const owner = input.scope === 'personal' ? caller.id : (input.team ?? '');
  const r = await pool.query(
    `INSERT INTO knowledge.canned_replies (id, scope, owner, shortcut, language, title, body, created_by)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text)
     ON CONFLICT (scope, owner, shortcut, language) DO NOTHING RETURNING ${COLS}`,
    [newId('cr'), input.scope, owner, input.shortcut, input.language, input.title, input.body, caller.id],
  );
  if (!r.rows[0]) throw conflict();
  return of(r.rows[0]);
}

/** A reply the caller may see (own personal ones and every team one); undefined otherwise. */
export async function getCannedReply(pool: Pool, id: string, caller: Caller): Promise<CannedReply | undefined> {
  const r = await pool.query(`SELECT ${COLS} FROM knowledge.canned_replies WHERE id = $1::text AND (scope = 'team' OR owner = $2::text)`, [id, caller.id]);
  return r.rows[0] ? of(r.rows[0]) : undefined;
}

function assertWritable(c: CannedReply, caller: Caller) {
  if (c.scope === 'team' && !caller.mayManageTeam) throw new AppError('FORBIDDEN', 'only supervisors and admins change team replies');
}

export async function updateCannedReply(pool: Pool, id: string, patch: { shortcut?: string; language?: string; title?: string; body?: string }, caller: Caller): Promise<CannedReply> {
  const c = await getCannedReply(pool, id, caller);
  if (!c) throw new AppError('NOT_FOUND', `canned reply ${id} not found`, [{ field: 'params.id', reason: 'unknown reply' }]);
  assertWritable(c, caller);
  try {
    const r = await pool.query(
      `UPDATE knowledge.canned_replies SET shortcut = $2::text, language = $3::text, title = $4::text, body = $5::text, updated_at = now()
       WHERE id = $1::text RETURNING ${COLS}`,
      [id, patch.shortcut ?? c.shortcut, patch.language ?? c.language, patch.title ?? c.title, patch.body ?? c.body],
    );
    return of(r.rows[0]);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw conflict();
    throw err;
  }
}

export async function deleteCannedReply(pool: Pool, id: string, caller: Caller): Promise<void> {
  const c = await getCannedReply(pool, id, caller);
  if (!c) throw new AppError('NOT_FOUND', `canned reply ${id} not found`, [{ field: 'params.id', reason: 'unknown reply' }]);
  assertWritable(c, caller);
  await pool.query('DELETE FROM knowledge.canned_replies WHERE id = $1::text', [id]);
}

/**
 * The caller's replies and the team's, optionally those whose shortcut starts with `shortcut`
 * (what an agent types after "/"), in a language, or containing `q` in title or body. Personal
 * replies come before team ones with the same shortcut.
 */
export async function listCannedReplies(pool: Pool, f: { shortcut?: string; language?: string; q?: string; limit: number }, caller: Caller): Promise<CannedReply[]> {
  const prefix = f.shortcut === undefined ? null : f.shortcut.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
  const contains = f.q === undefined ? null : '%' + f.q.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
  const r = await pool.query(
    `SELECT ${COLS} FROM knowledge.canned_replies
     WHERE (scope = 'team' OR owner = $1::text)
       AND ($2::text IS NULL OR lower(shortcut) LIKE lower($2::text))
       AND ($3::text IS NULL OR language = $3::text)
       AND ($4::text IS NULL OR title ILIKE $4::text OR body ILIKE $4::text)
     ORDER BY shortcut, (scope = 'personal') DESC, language, id LIMIT $5::int`,
    [caller.id, prefix, f.language ?? null, contains, f.limit],
  );
  return r.rows.map(of);
}
