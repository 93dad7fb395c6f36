import type { Pool } from 'pg';
import { deleteInBatches } from '@omni/db';

/** The parts of a message envelope that are its content (kept: ids, channel, parties, times). */
export const CONTENT_FIELDS = ['text', 'html', 'subject', 'attachments', 'raw'];

/**
 * Removes the content of messages older than `days` from the timeline, in batches (rows already
 * swept are skipped, so replicas and restarts simply continue). The row stays, marked
 * `contentRemoved`, so timelines, transcripts and KPIs keep their shape. Returns the rows changed.
 */
export async function sweepMessageContent(pool: Pick<Pool, 'query'>, days: number, batchSize = 1000): Promise<number> {
  if (days <= 0) return 0;
  return deleteInBatches(
    pool,
    `UPDATE history.timeline t SET payload = (t.payload - $2::text[]) || '{"contentRemoved": true}'::jsonb
      WHERE t.event_id IN (
        SELECT event_id FROM history.timeline
         WHERE kind IN ('message.inbound', 'message.outbound') AND occurred_at < now() - make_interval(days => $1::int)
           AND NOT (payload ? 'contentRemoved')
         LIMIT $3::int FOR UPDATE SKIP LOCKED)`,
    [days, CONTENT_FIELDS],
    batchSize,
  );
}
