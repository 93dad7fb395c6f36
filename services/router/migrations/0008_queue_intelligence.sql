-- Issue 17 (docs/queue-intelligence.md). The decision record of every offer: the rule and widening
-- step in force, the eligible agents with the values that ordered them, each other agent's first
-- reason. Written in the offer's transaction; read by the conversation API.
CREATE TABLE offer_decisions (
  conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  agent_id text NOT NULL,
  decided_at timestamptz NOT NULL,
  record jsonb NOT NULL,
  PRIMARY KEY (conversation_id, decided_at, agent_id)
);
