import type { Pool } from 'pg';
import { deleteInBatches } from '@omni/db';

/**
 * Deletes `router.processed_events` rows older than `retentionDays`, oldest first, in batches, and
 * returns how many went. A row only has to outlive every way the same id can come back: Kafka
 * redelivering it (bounded by the topic's retention, 7 days by default) and an ingest service
 * publishing a provider's late retry again (bounded by its DEDUPE_RETENTION_DAYS, 30 by default);
 * the default of 60 days is above both. Replicas split the work (SKIP LOCKED). 0 keeps every row.
 */
export async function pruneProcessedEvents(pool: Pick<Pool, 'query'>, retentionDays: number, batchSize = 5000): Promise<number> {
  if (retentionDays <= 0) return 0;
  return deleteInBatches(
    pool,
    `DELETE FROM router.processed_events WHERE event_id IN (
       SELECT event_id FROM router.processed_events
        WHERE processed_at < now() - make_interval(days => $1::int)
        ORDER BY processed_at LIMIT $2::int FOR UPDATE SKIP LOCKED)`,
    [retentionDays],
    batchSize,
  );
}
