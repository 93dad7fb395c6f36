import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '@omni/db';
import { AppError } from '@omni/service';
import { mergeCustomers } from './link-customers';
import { enqueueCustomerRecords } from './customers';

export interface MergeView {
  id: string;
  sourceId: string;
  targetId: string;
  reason: string;
  evidence: string | null;
  actor: string;
  createdAt: string;
  undoneAt: string | null;
  undoneBy: string | null;
  undoReason: string | null;
}

interface MergeRow {
  id: string;
  source_id: string;
  target_id: string;
  reason: string;
  evidence: string | null;
  actor: string;
  created_at: Date;
  undone_at: Date | null;
  undone_by: string | null;
  undo_reason: string | null;
}

const view = (r: MergeRow): MergeView => ({
  id: r.id,
  sourceId: r.source_id,
  targetId: r.target_id,
  reason: r.reason,
  evidence: r.evidence,
  actor: r.actor,
  createdAt: r.created_at.toISOString(),
  undoneAt: r.undone_at?.toISOString() ?? null,
  undoneBy: r.undone_by,
  undoReason: r.undo_reason,
});

export async function getMerge(db: Pool | PoolClient, id: string): Promise<MergeView | null> {
  const r = await db.query<MergeRow>('SELECT * FROM history.merges WHERE id = $1::text', [id]);
  return r.rows[0] ? view(r.rows[0]) : null;
}

/** Every merge (automatic or manual, live or undone) the customer took part in, oldest first. */
export async function mergesOf(db: Pool | PoolClient, customerId: string): Promise<MergeView[]> {
  const r = await db.query<MergeRow>('SELECT * FROM history.merges WHERE source_id = $1::text OR target_id = $1::text ORDER BY created_at, id', [customerId]);
  return r.rows.map(view);
}

/**
 * Merges customer `from` into `target` (the caller chooses the direction). Both must exist and be
 * top-level customers: merging a merged customer would hide an earlier decision, so the caller
 * unmerges first or merges into the customer it now belongs to. Nothing changes on any error.
 */
export async function mergeByRequest(
  pool: Pool,
  customersTopic: string,
  req: { targetId: string; from: string; reason: string; actor: string },
): Promise<MergeView> {
  if (req.targetId === req.from) throw new AppError('VALIDATION', 'a customer cannot be merged into itself', [{ field: 'body.from', reason: 'must differ from the target customer' }]);
  return withTransaction(pool, async (client) => {
    const rows = await client.query<{ id: string; merged_into: string | null }>(
      'SELECT id, merged_into FROM history.customers WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
      [[req.targetId, req.from]],
    );
    const target = rows.rows.find((r) => r.id === req.targetId);
    const source = rows.rows.find((r) => r.id === req.from);
    if (!target) throw new AppError('NOT_FOUND', `customer ${req.targetId} not found`, [{ field: 'params.id', reason: 'unknown customer' }]);
    if (!source) throw new AppError('NOT_FOUND', `customer ${req.from} not found`, [{ field: 'body.from', reason: 'unknown customer' }]);
    if (source.merged_into)
      throw new AppError('CONFLICT', `customer ${req.from} is already merged into ${source.merged_into}; unmerge it first`, [{ field: 'body.from', reason: 'already merged' }]);
    if (target.merged_into)
      throw new AppError('CONFLICT', `customer ${req.targetId} is merged into ${target.merged_into}; merge into that customer instead`, [{ field: 'params.id', reason: 'already merged' }]);
    const id = await mergeCustomers(client, { sourceId: req.from, targetId: req.targetId, reason: req.reason, actor: req.actor });
    await enqueueCustomerRecords(client, customersTopic, [req.from, req.targetId]);
    return (await getMerge(client, id))!;
  });
}

/** Undoes a live merge: the source is a top-level customer again with exactly its own history. */
export async function unmerge(pool: Pool, customersTopic: string, req: { mergeId: string; actor: string; reason?: string }): Promise<MergeView> {
  return withTransaction(pool, async (client) => {
    const r = await client.query<MergeRow>('SELECT * FROM history.merges WHERE id = $1::text FOR UPDATE', [req.mergeId]);
    const m = r.rows[0];
    if (!m) throw new AppError('NOT_FOUND', `merge ${req.mergeId} not found`, [{ field: 'params.mergeId', reason: 'unknown merge' }]);
    if (m.undone_at) throw new AppError('CONFLICT', `merge ${req.mergeId} was already undone at ${m.undone_at.toISOString()}`, [{ field: 'params.mergeId', reason: 'already undone' }]);
    const moved = await client.query('UPDATE history.customers SET merged_into = NULL WHERE id = $1::text AND merged_into = $2::text', [m.source_id, m.target_id]);
    if (moved.rowCount !== 1) throw new AppError('CONFLICT', `customer ${m.source_id} is no longer merged into ${m.target_id}`);
    await client.query('UPDATE history.merges SET undone_at = now(), undone_by = $2::text, undo_reason = $3::text WHERE id = $1::text', [
      m.id,
      req.actor,
      req.reason ?? null,
    ]);
    await enqueueCustomerRecords(client, customersTopic, [m.source_id, m.target_id]);
    return (await getMerge(client, m.id))!;
  });
}
