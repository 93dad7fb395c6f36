-- ingest-chat: live website chat sessions (POST /v1/chat/sessions) and the agent replies stored for
-- them, numbered per session so a visitor who reconnects asks for "everything after seq N".
CREATE TABLE IF NOT EXISTS chat_sessions (
  session_id text PRIMARY KEY,
  adapter_id text NOT NULL,
  visitor_id text NOT NULL,
  name text,
  email text,
  language text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- last seq handed out in chat_session_events; the row lock on this serialises numbering per session
  last_seq bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chat_sessions_visitor ON chat_sessions (visitor_id);

CREATE TABLE IF NOT EXISTS chat_session_events (
  session_id text NOT NULL REFERENCES chat_sessions (session_id),
  seq bigint NOT NULL,
  outbound_id text NOT NULL UNIQUE,
  conversation_id text NOT NULL,
  agent_id text NOT NULL,
  text text NOT NULL,
  to_party jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  -- first time the reply was written to one of the visitor's sockets (a "delivered" status was queued)
  delivered_at timestamptz,
  PRIMARY KEY (session_id, seq)
);
