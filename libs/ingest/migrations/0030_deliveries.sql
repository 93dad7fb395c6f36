-- Outbound delivery (docs/delivery-callbacks.md). The outbound consumer writes one row per accepted
-- reply before committing its Kafka offset; the delivery loop works from this table, so a slow
-- conversation never holds up a partition and nothing accepted is lost on a crash.
CREATE TABLE IF NOT EXISTS deliveries (
  -- insertion order = Kafka order within a conversation (one key, one partition, handled in order)
  seq bigserial PRIMARY KEY,
  outbound_id text NOT NULL UNIQUE,
  conversation_id text NOT NULL,
  channel text NOT NULL,
  thread_key text NOT NULL,
  provider text NOT NULL,
  -- pending → delivered | failed; callback-task for voice (terminal at once)
  status text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'callback-task')),
  -- the exact JSON body POSTed on every attempt (fixed at acceptance, so retries are identical)
  body text NOT NULL,
  outbound jsonb NOT NULL,
  attempts int NOT NULL DEFAULT 0,
  -- when the row may next be claimed; while an attempt is in flight it is the claim's lease deadline
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  claim_token text,
  last_error text,
  provider_message_id text,
  source_topic text NOT NULL,
  source_partition int NOT NULL,
  source_offset text NOT NULL,
  source_group text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- the claim scans due pending rows in deadline order and keeps those with no older pending row in
-- their conversation (an index probe each), stopping at its limit
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (conversation_id, seq) WHERE status = 'pending';

-- Delivery statuses and dead letters leave through ingest.outbox, created by 0021_outbox.sql.
