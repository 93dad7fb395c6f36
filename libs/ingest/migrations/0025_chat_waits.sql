-- ingest-chat: the latest wait estimate of each websocket session's queued conversation, from
-- omni.conversations.v1 (conversation.queued data.estimate, conversation.wait-updated data.wait);
-- the visitor's socket sends it as a `wait` frame when it changes. Latest wins (occurred_at).
CREATE TABLE IF NOT EXISTS chat_session_waits (
  session_id text PRIMARY KEY REFERENCES chat_sessions (session_id) ON DELETE CASCADE,
  conversation_id text NOT NULL,
  event_id text NOT NULL,
  position int NOT NULL,
  estimate_ms bigint,
  estimator text NOT NULL,
  occurred_at timestamptz NOT NULL
);
