-- Dead letters of the whole system (omni.dlq.v1), kept so an operator can list them
-- (GET /v1/admin/dead-letters) and replay one (npm run dlq:replay -- <id>). One row per source
-- position: a redelivered DLQ record changes nothing.
CREATE TABLE IF NOT EXISTS dead_letters (
  id bigserial PRIMARY KEY,
  source_topic text NOT NULL,
  source_partition int NOT NULL,
  source_offset text NOT NULL,
  group_id text NOT NULL,
  reason text NOT NULL,
  key text,
  value text,
  failed_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  replayed_at timestamptz,
  replays int NOT NULL DEFAULT 0,
  UNIQUE (group_id, source_topic, source_partition, source_offset)
);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at DESC);
