-- Issue 18 (docs/knowledge.md): self-service before a human (tier 0) and the knowledge suggestions
-- every offer carries.

-- A conversation answered automatically waits in 'self-service' (no queue entry) for YES/NO.
ALTER TABLE conversations DROP CONSTRAINT conversations_status_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_status_check CHECK (status IN ('self-service', 'queued', 'offered', 'assigned', 'resolved', 'closed'));

-- The self-service setting is versioned with the rules: {"categories": [...], "waitMs": n}; NULL = off.
ALTER TABLE rule_sets ADD COLUMN self_service jsonb;

-- What the router learnt from the knowledge service for a conversation, fetched once when it opened
-- (outside any routing transaction): the suggestions every offer frame carries, and its one
-- self-service attempt.
CREATE TABLE conversation_knowledge (
  conversation_id text PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
  -- NULL: not asked (knowledge off); [] asked, none found or knowledge did not answer in time
  suggestions jsonb,
  self_service_state text CHECK (self_service_state IN ('offered', 'self-served', 'declined', 'expired')),
  self_service_articles text[] NOT NULL DEFAULT '{}',
  self_service_offered_at timestamptz,
  self_service_deadline timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- the sweep's "no answer in time" lookup
CREATE INDEX conversation_knowledge_due ON conversation_knowledge (self_service_deadline) WHERE self_service_state = 'offered';
