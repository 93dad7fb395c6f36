import type { PoolClient } from 'pg';
import { newReplyToken, plusAddress, replyMessageId, threadHeaders, type EmailThreadHeaders } from './email-threading';

/**
 * Threading headers for an email reply on `threadKey`, recording the reply's Message-ID in
 * ingest.email_message_ids (direction 'outbound') so the customer's answer to it joins the thread,
 * and the thread's plus-address token in ingest.email_reply_tokens. Runs in the caller's transaction.
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
    await client.query('INSERT INTO ingest.email_reply_tokens (token, thread_key) VALUES ($1::text, $2::text) ON CONFLICT (thread_key) DO NOTHING', [
      newReplyToken(),
      opts.threadKey,
    ]);
    const t = await client.query<{ token: string }>('SELECT token FROM ingest.email_reply_tokens WHERE thread_key = $1::text', [opts.threadKey]);
    replyTo = plusAddress(opts.replyToBase, t.rows[0]!.token);
  }
  return threadHeaders(messageId, known.rows.map((r) => r.message_id), replyTo);
}

/** The thread a plus-address token names (for inbound threading: support+t_<token>@…). */
export async function threadOfReplyToken(client: Pick<PoolClient, 'query'>, token: string): Promise<string | undefined> {
  const r = await client.query<{ thread_key: string }>('SELECT thread_key FROM ingest.email_reply_tokens WHERE token = $1::text', [token]);
  return r.rows[0]?.thread_key;
}
