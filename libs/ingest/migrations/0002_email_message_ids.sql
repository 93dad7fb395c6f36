-- Every RFC 5322 Message-ID we know (received from customers or generated for agent replies) and the
-- thread it belongs to, so that a reply's In-Reply-To / References finds its thread. Shared by the
-- inbound threading of ingest-email and the outbound delivery that generates reply Message-IDs.
CREATE TABLE IF NOT EXISTS email_message_ids (
  message_id text PRIMARY KEY,
  thread_key text NOT NULL,
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS email_message_ids_thread ON email_message_ids (thread_key);
CREATE INDEX IF NOT EXISTS dedupe_thread_key ON dedupe (thread_key, published_at DESC);
