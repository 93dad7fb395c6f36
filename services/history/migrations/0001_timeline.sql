-- History state (schema "history"): customers, their identities, and the append-only timeline.
CREATE TABLE customers (
  id text PRIMARY KEY,
  display_name text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Every identity (channel + normalised address) belongs to exactly one customer.
CREATE TABLE identities (
  channel text NOT NULL,
  address text NOT NULL,
  customer_id text NOT NULL REFERENCES customers (id),
  linked_reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, address)
);
CREATE INDEX identities_customer ON identities (customer_id);

-- One row per event from any topic; event_id makes redelivery a no-op.
CREATE TABLE timeline (
  seq bigserial,
  event_id text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES customers (id),
  occurred_at timestamptz NOT NULL,
  kind text NOT NULL,
  channel text NOT NULL,
  conversation_id text,
  thread_key text,
  tier int,
  agent_id text,
  source_topic text NOT NULL,
  payload jsonb NOT NULL
);
CREATE INDEX timeline_customer_order ON timeline (customer_id, occurred_at, seq);
CREATE INDEX timeline_conversation ON timeline (conversation_id) WHERE conversation_id IS NOT NULL;
