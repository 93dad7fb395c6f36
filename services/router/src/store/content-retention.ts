import type { Pool } from 'pg';
import { Type } from '@sinclair/typebox';
import { deleteInBatches } from '@omni/db';
import type { Logger } from '@omni/logging';
import { runPeriodically } from '@omni/service';

/** Env of the router's message content retention (spread into RouterEnv). */
export const RouterContentRetentionEnv = {
  /** days customer message text is kept in router tables (conversations' latest text, console frames); 0 = forever */
  ROUTER_CONTENT_RETENTION_DAYS: Type.Integer({ default: 0, minimum: 0 }),
  ROUTER_CONTENT_SWEEP_INTERVAL_MS: Type.Integer({ default: 3_600_000, minimum: 100 }),
};

/**
 * Removes message content older than `days` from the router, in batches (rows already swept no
 * longer match, so replicas and restarts simply continue; SKIP LOCKED splits the work):
 * `conversations.last_text` of conversations not updated since, and the text, subject and
 * attachments of console `message` frames and the latest text shown in `offer` and `joined` frames,
 * and the value of dead letters received before then (a dead-lettered message or reply is content;
 * such a letter can no longer be replayed). Returns the rows changed. 0 keeps everything.
 */
export async function sweepRouterContent(pool: Pick<Pool, 'query'>, days: number, batchSize = 1000): Promise<number> {
  if (days <= 0) return 0;
  const conversations = await deleteInBatches(
    pool,
    `UPDATE router.conversations SET last_text = NULL
      WHERE id IN (SELECT id FROM router.conversations
                    WHERE last_text IS NOT NULL AND updated_at < now() - make_interval(days => $1::int)
                    LIMIT $2::int FOR UPDATE SKIP LOCKED)`,
    [days],
    batchSize,
  );
  const frames = await deleteInBatches(
    pool,
    `UPDATE router.agent_events e
        SET frame = CASE WHEN e.frame ? 'conversation'
                         THEN jsonb_set(e.frame, '{conversation}', (e.frame->'conversation') - 'lastText') || '{"contentRemoved": true}'::jsonb
                         ELSE (e.frame - ARRAY['text', 'subject', 'attachments']) || '{"contentRemoved": true}'::jsonb END
       FROM (SELECT agent_id, seq FROM router.agent_events
              WHERE created_at < now() - make_interval(days => $1::int) AND NOT (frame ? 'contentRemoved')
                AND (frame ? 'text' OR (frame->'conversation') ? 'lastText')
              LIMIT $2::int FOR UPDATE SKIP LOCKED) v
      WHERE e.agent_id = v.agent_id AND e.seq = v.seq`,
    [days],
    batchSize,
  );
  const deadLetters = await deleteInBatches(
    pool,
    `UPDATE router.dead_letters SET value = NULL
      WHERE id IN (SELECT id FROM router.dead_letters
                    WHERE value IS NOT NULL AND received_at < now() - make_interval(days => $1::int)
                    LIMIT $2::int FOR UPDATE SKIP LOCKED)`,
    [days],
    batchSize,
  );
  return conversations + frames + deadLetters;
}

/** Runs sweepRouterContent every ROUTER_CONTENT_SWEEP_INTERVAL_MS (start.ts); `stop()` waits for a sweep in progress. */
export function startRouterContentSweep(
  pool: Pick<Pool, 'query'>,
  config: { ROUTER_CONTENT_RETENTION_DAYS: number; ROUTER_CONTENT_SWEEP_INTERVAL_MS: number },
  logger: Logger,
): { stop: () => Promise<void> } {
  return runPeriodically(
    config.ROUTER_CONTENT_SWEEP_INTERVAL_MS,
    async () => {
      const swept = await sweepRouterContent(pool, config.ROUTER_CONTENT_RETENTION_DAYS);
      if (swept > 0) logger.info({ swept, retentionDays: config.ROUTER_CONTENT_RETENTION_DAYS }, 'message content past retention removed');
    },
    (err) => logger.warn({ err: err.message }, 'content retention sweep failed, retrying next tick'),
  );
}
