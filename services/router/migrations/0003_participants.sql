-- Collaboration: agents invited to a conversation besides its assignee, read-only (observer) or
-- allowed to reply (helper). They see its customer messages; they do not use capacity.
CREATE TABLE conversation_participants (
  conversation_id text NOT NULL REFERENCES conversations (id),
  agent_id text NOT NULL REFERENCES agents (id),
  role text NOT NULL CHECK (role IN ('observer', 'helper')),
  invited_by text NOT NULL,
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, agent_id)
);
CREATE INDEX conversation_participants_agent ON conversation_participants (agent_id);
