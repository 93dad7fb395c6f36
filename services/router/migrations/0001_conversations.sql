-- Router state (schema "router"). Conversations, their messages, the tier queues, the outbox that
-- carries routing events to omni.conversations.v1, and processed inbound ids for idempotency.
CREATE TABLE processed_events (
  event_id text PRIMARY KEY,
  processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversations (
  id text PRIMARY KEY,
  thread_key text NOT NULL,
  channel text NOT NULL,
  customer jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'offered', 'assigned', 'resolved', 'closed')),
  tier int NOT NULL CHECK (tier BETWEEN 1 AND 5),
  category text NOT NULL,
  priority int NOT NULL DEFAULT 50,
  language text,
  agent_id text,
  opened_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz
);
-- at most one live conversation per thread
CREATE UNIQUE INDEX conversations_live_thread ON conversations (thread_key) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX conversations_thread ON conversations (thread_key, opened_at DESC);

CREATE TABLE conversation_messages (
  message_id text PRIMARY KEY,
  conversation_id text NOT NULL REFERENCES conversations (id),
  received_at timestamptz NOT NULL
);
CREATE INDEX conversation_messages_conv ON conversation_messages (conversation_id);

CREATE TABLE queue_entries (
  conversation_id text PRIMARY KEY REFERENCES conversations (id),
  tier int NOT NULL,
  priority int NOT NULL,
  waiting_since timestamptz NOT NULL
);
CREATE INDEX queue_entries_order ON queue_entries (tier, priority DESC, waiting_since);

CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  key text NOT NULL,
  schema_id text NOT NULL,
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
