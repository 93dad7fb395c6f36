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

-- Business hours per tier, versioned like the rules: each edit is a new version, exactly one active.
CREATE TABLE business_hours (
  version int PRIMARY KEY,
  hours jsonb NOT NULL,
  active boolean NOT NULL DEFAULT false,
  created_by text NOT NULL,
  note text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX business_hours_one_active ON business_hours (active) WHERE active;

-- Proficiency 1–5 per skill and language: {"skills": {"billing": 5}, "languages": {"es": 4}}. Empty:
-- listed skills count 3, listed languages 5 (domain/preference.ts), i.e. routing as before.
ALTER TABLE agents ADD COLUMN proficiency jsonb NOT NULL DEFAULT '{}';

-- After-contact work (wrap-up): after resolve the agent keeps the conversation's slot on its channel
-- until `until` (WRAP_UP_MS); counted as load by the matcher while until > now().
CREATE TABLE agent_wrap_ups (
  agent_id text NOT NULL REFERENCES agents (id),
  conversation_id text NOT NULL,
  channel text NOT NULL,
  since timestamptz NOT NULL,
  until timestamptz NOT NULL,
  PRIMARY KEY (agent_id, conversation_id)
);
