-- ingest-email: plus-address thread tokens (support+t_<hex>@…) → thread, the fallback when a reply
-- carries neither In-Reply-To nor References (token = emailThreadToken(threadKey), libs/ingest).
CREATE TABLE IF NOT EXISTS email_thread_tokens (
  token text PRIMARY KEY,
  thread_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- Mailgun webhook tokens already used, with the Message-Id they came with: a token seen again with
-- the same Message-Id is Mailgun retrying (answered as a duplicate), with another one a replay (403).
CREATE TABLE IF NOT EXISTS mailgun_tokens (
  token text PRIMARY KEY,
  message_id text NOT NULL,
  timestamp_s bigint NOT NULL,
  seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS mailgun_tokens_seen_at ON mailgun_tokens (seen_at);
