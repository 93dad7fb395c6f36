import type { Pool } from 'pg';
import { emailThreadToken } from '@omni/ingest';
import { withTransaction } from '@omni/db';
import { decideThread, lookupKeys, type ThreadDecision, type ThreadingInput } from './domain/threading';

/**
 * Finds the thread of an inbound e-mail in ingest.email_message_ids / email_thread_tokens and
 * records the message's own Message-ID (direction inbound) and the thread's plus-address token.
 * Recording happens before publishing: a provider retry after a failed publish then finds the same
 * thread, and a reply arriving right after the original already sees the original's id.
 */
export async function threadOf(pool: Pool, input: ThreadingInput, fallbackRoot: string): Promise<ThreadDecision> {
  const keys = lookupKeys(input);
  // ids are stored without angle brackets; also look up the bracketed form in case a writer kept them
  const ids = keys.messageIds.flatMap((id) => [id, `<${id}>`]);
  const [byId, byToken] = await Promise.all([
    ids.length
      ? pool.query<{ message_id: string; thread_key: string }>('SELECT message_id, thread_key FROM ingest.email_message_ids WHERE message_id = ANY($1::text[])', [ids])
      : Promise.resolve({ rows: [] as { message_id: string; thread_key: string }[] }),
    keys.tokens.length
      ? pool.query<{ token: string; thread_key: string }>('SELECT token, thread_key FROM ingest.email_thread_tokens WHERE token = ANY($1::text[])', [keys.tokens])
      : Promise.resolve({ rows: [] as { token: string; thread_key: string }[] }),
  ]);
  const known = {
    byMessageId: new Map(byId.rows.map((r) => [r.message_id.replace(/^<|>$/g, ''), r.thread_key])),
    byToken: new Map(byToken.rows.map((r) => [r.token, r.thread_key])),
  };
  const decision = decideThread(input, known, fallbackRoot);
  await withTransaction(pool, async (c) => {
    if (input.messageId)
      await c.query(
        `INSERT INTO ingest.email_message_ids (message_id, thread_key, direction) VALUES ($1::text, $2::text, 'inbound') ON CONFLICT (message_id) DO NOTHING`,
        [input.messageId, decision.threadKey],
      );
    await c.query('INSERT INTO ingest.email_thread_tokens (token, thread_key) VALUES ($1::text, $2::text) ON CONFLICT (token) DO NOTHING', [
      emailThreadToken(decision.threadKey),
      decision.threadKey,
    ]);
  });
  return decision;
}
