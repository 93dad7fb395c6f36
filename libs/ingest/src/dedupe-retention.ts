import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { deleteInBatches } from '@omni/db';

/** Env of the dedupe retention sweep (part of IngestEnv). */
export const DedupeEnv = {
  DEDUPE_RETENTION_DAYS: Type.Integer({
    default: 30,
    minimum: 0,
    description: 'days a message id is remembered for dedupe (each thread keeps its latest row); 0 keeps every row',
  }),
  DEDUPE_SWEEP_INTERVAL_MS: Type.Integer({ default: 3_600_000, minimum: 100 }),
};

export interface DedupeSettings {
  DEDUPE_RETENTION_DAYS: number;
  DEDUPE_SWEEP_INTERVAL_MS: number;
}

/**
 * Deletes `ingest.dedupe` rows older than the retention, in batches, and returns how many went.
 * A row is needed only while the provider may still retry that webhook (hours to a few days), so
 * ids older than the retention are forgotten: a copy arriving later is published again, and the
 * router drops it by message id. Each thread keeps its latest row whatever its age, because
 * outbound delivery reads the thread's provider from it (docs/delivery-callbacks.md). Replicas
 * sweeping at the same time split the rows (SKIP LOCKED).
 */
export async function sweepDedupe(pool: Pool, retentionDays: number, batchSize = 5000): Promise<number> {
  if (retentionDays <= 0) return 0;
  return deleteInBatches(
    pool,
    `DELETE FROM ingest.dedupe WHERE message_id IN (
       SELECT o.message_id FROM ingest.dedupe o
        WHERE o.published_at < now() - make_interval(days => $1::int)
          AND EXISTS (SELECT 1 FROM ingest.dedupe n WHERE n.thread_key = o.thread_key AND n.published_at > o.published_at)
        ORDER BY o.published_at
        LIMIT $2::int FOR UPDATE OF o SKIP LOCKED)`,
    [retentionDays],
    batchSize,
  );
}
