-- Shared by the four ingest services (schema "ingest"). A row means: this message id was acked by
-- Kafka, so a provider's retry is answered 2xx without publishing again, also after a restart.
CREATE TABLE IF NOT EXISTS dedupe (
  message_id text PRIMARY KEY,
  channel text NOT NULL,
  provider text NOT NULL,
  provider_message_id text NOT NULL,
  thread_key text NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dedupe_published_at ON dedupe (published_at);
