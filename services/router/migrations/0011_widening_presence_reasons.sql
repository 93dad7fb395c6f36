-- Issue 17, second part (docs/queue-intelligence.md).

-- Widening over waiting time: the steps of the rule that classified a conversation, copied when it
-- is first queued (rule versions never change, so this is the rule as it was), so the match pass's
-- prefilter can apply the step in force (dropped skills, extra tiers) without reading rule sets.
-- Deferred: written by the transaction that inserts the conversation, before its row is saved.
CREATE TABLE queue_widening (
  conversation_id text PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  steps jsonb NOT NULL
);

-- Away reasons configured by admins (break, training, meeting…); the agent gives one with presence away.
CREATE TABLE presence_reasons (
  id text PRIMARY KEY,
  label text NOT NULL,
  productive boolean NOT NULL,
  position int NOT NULL
);
INSERT INTO presence_reasons (id, label, productive, position) VALUES
  ('break', 'Break', false, 0), ('lunch', 'Lunch', false, 1), ('training', 'Training', true, 2), ('meeting', 'Meeting', true, 3), ('admin', 'Admin work', true, 4);

ALTER TABLE agents ADD COLUMN away_reason text;
CREATE INDEX agent_wrap_ups_until ON agent_wrap_ups (until);

-- Wait estimates told to the customer (docs/queue-intelligence.md): the one given when the
-- conversation was first queued (on its conversation.queued event; the estimate-error KPI compares
-- it with the actual wait), the last one announced (conversation.wait-updated, when it moved
-- materially) and the automatic wait messages sent on async channels (at most two per conversation).
CREATE TABLE wait_notices (
  conversation_id text PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  first_position int NOT NULL,
  first_estimate_ms bigint,
  first_at timestamptz NOT NULL,
  position int NOT NULL,
  estimate_ms bigint,
  announced_at timestamptz NOT NULL,
  async_sent int NOT NULL DEFAULT 0,
  async_last_ms bigint
);
