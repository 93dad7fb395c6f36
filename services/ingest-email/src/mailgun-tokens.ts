import type { Pool } from 'pg';

export type TokenUse = 'first-use' | 'provider-retry' | 'replayed';

/** How a signed Mailgun token relates to what we saw before (read only; see claimToken). */
export async function priorTokenUse(pool: Pool, token: string, messageId: string): Promise<TokenUse> {
  const r = await pool.query<{ message_id: string }>('SELECT message_id FROM ingest.mailgun_tokens WHERE token = $1::text', [token]);
  if (!r.rows[0]) return 'first-use';
  return r.rows[0].message_id === messageId ? 'provider-retry' : 'replayed';
}

/** Records a fresh token with its Message-Id; a concurrent first use of the same token decides like priorTokenUse. */
export async function claimToken(pool: Pool, token: string, messageId: string, timestampS: number): Promise<TokenUse> {
  const r = await pool.query(
    'INSERT INTO ingest.mailgun_tokens (token, message_id, timestamp_s) VALUES ($1::text, $2::text, $3::bigint) ON CONFLICT (token) DO NOTHING RETURNING token',
    [token, messageId, timestampS],
  );
  if (r.rowCount === 1) return 'first-use';
  return priorTokenUse(pool, token, messageId);
}

/** Drops tokens older than the retention (past Mailgun's retry window they can only be replays, which the timestamp check rejects). */
export async function pruneTokens(pool: Pool, retentionS: number): Promise<number> {
  const r = await pool.query('DELETE FROM ingest.mailgun_tokens WHERE seen_at < now() - make_interval(secs => $1::int)', [retentionS]);
  return r.rowCount ?? 0;
}
