-- Outbox of the ingest schema (same DDL as @omni/kafka OUTBOX_DDL): delivery statuses that must be
-- published exactly when a state change in this schema commits (first ingest user: ingest-chat).
CREATE TABLE IF NOT EXISTS outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  key text NOT NULL,
  schema_id text NOT NULL,
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
