import type { PoolClient } from 'pg';
import { emailThreadToken, plusAddressFor } from '../email-thread-token';
import { replyMessageId, threadHeaders, type EmailThreadHeaders } from './email-threading';

/**
 * Threading headers for an email reply on `threadKey`, recording the reply's Message-ID in
 * ingest.email_message_ids (direction 'outbound') so the customer's answer to it joins the thread,
 * and the thread's plus-address token in ingest.email_thread_tokens (the table ingest-email resolves
 * support+t_<token>@… against). Runs in the caller's transaction.
 */
export async function emailHeadersForReply(
  client: PoolClient,
  opts: { outboundId: string; threadKey: string; domain: string; replyToBase: string },
): Promise<EmailThreadHeaders> {
  const messageId = replyMessageId(opts.outboundId, opts.domain);
  const known = await client.query<{ message_id: string }>(
    'SELECT message_id FROM ingest.email_message_ids WHERE thread_key = $1::text ORDER BY created_at, message_id',
    [opts.threadKey],
  );
  // clock_timestamp, not now(): several replies accepted in one transaction keep their order
  await client.query(
    `INSERT INTO ingest.email_message_ids (message_id, thread_key, direction, created_at)
     VALUES ($1::text, $2::text, 'outbound', clock_timestamp()) ON CONFLICT (message_id) DO NOTHING`,
    [messageId, opts.threadKey],
  );
  let replyTo: string | undefined;
  if (opts.replyToBase) {
    // the token is deterministic per thread (emailThreadToken): the same one ingest-email records
    await client.query('INSERT INTO ingest.email_thread_tokens (token, thread_key) VALUES ($1::text, $2::text) ON CONFLICT (token) DO NOTHING', [
      emailThreadToken(opts.threadKey),
      opts.threadKey,
    ]);
    replyTo = plusAddressFor(opts.replyToBase, opts.threadKey);
  }
  return threadHeaders(messageId, known.rows.map((r) => r.message_id), replyTo);
}
