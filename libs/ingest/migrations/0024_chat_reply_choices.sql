-- ingest-chat: a reply may offer buttons (omni.outbound.v1 raw.choices, e.g. the router's self-service
-- "did this solve it?" YES/NO); the visitor's click comes back as a message (docs/knowledge.md).
ALTER TABLE chat_session_events ADD COLUMN IF NOT EXISTS choices jsonb;
