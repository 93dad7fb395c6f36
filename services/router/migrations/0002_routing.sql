-- Routing state: versioned classification rules, agents, per-agent event log (sequence numbers for
-- console replay), offers and deadlines. Every timer is a timestamptz column swept by all replicas.

CREATE TABLE rule_sets (
  version int PRIMARY KEY,
  rules jsonb NOT NULL,
  active boolean NOT NULL DEFAULT false,
  created_by text NOT NULL,
  note text,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- exactly one active version at a time (a new version per edit)
CREATE UNIQUE INDEX rule_sets_one_active ON rule_sets (active) WHERE active;

CREATE TABLE agents (
  id text PRIMARY KEY,
  name text NOT NULL,
  tiers int[] NOT NULL,
  skills text[] NOT NULL DEFAULT '{}',
  languages text[] NOT NULL DEFAULT '{}',
  -- {"chat":3,"email":5,"phone":1}: concurrent conversations per channel; a missing channel means 0
  capacity jsonb NOT NULL,
  presence text NOT NULL DEFAULT 'offline' CHECK (presence IN ('online', 'away', 'offline')),
  -- the console session currently attached (NULL: no socket); only that session's close counts
  session_id text,
  -- refreshed by the replica holding the socket; a replica killed with SIGKILL stops refreshing it
  seen_at timestamptz,
  disconnect_deadline timestamptz,
  consecutive_timeouts int NOT NULL DEFAULT 0,
  idle_since timestamptz NOT NULL DEFAULT now(),
  next_seq bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Everything sent to an agent console, numbered per agent: a reconnecting console asks for seq > n.
CREATE TABLE agent_events (
  agent_id text NOT NULL REFERENCES agents (id),
  seq bigint NOT NULL,
  frame jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, seq)
);

ALTER TABLE conversations DROP CONSTRAINT conversations_status_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_status_check CHECK (status IN ('queued', 'offered', 'assigned', 'resolved', 'closed'));
ALTER TABLE conversations
  ADD COLUMN customer_key text,
  ADD COLUMN required_skills text[] NOT NULL DEFAULT '{}',
  ADD COLUMN customer_attributes jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN rule_id text,
  ADD COLUMN rule_version int,
  -- when the conversation first started waiting; kept across requeues so it returns to the front
  ADD COLUMN waiting_since timestamptz,
  ADD COLUMN offer_deadline timestamptz,
  ADD COLUMN declined_agents text[] NOT NULL DEFAULT '{}',
  ADD COLUMN handoff_notes jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN escalations int NOT NULL DEFAULT 0,
  ADD COLUMN last_agent_id text,
  ADD COLUMN last_message_id text,
  -- the latest customer text (truncated), shown in offers so the agent knows what it is about
  ADD COLUMN last_text text;
CREATE INDEX conversations_agent ON conversations (agent_id) WHERE status IN ('offered', 'assigned');
CREATE INDEX conversations_offer_deadline ON conversations (offer_deadline) WHERE status = 'offered';
CREATE INDEX conversations_resolved ON conversations (resolved_at) WHERE status = 'resolved';
CREATE INDEX conversations_customer ON conversations (customer_key, opened_at DESC);

ALTER TABLE queue_entries
  -- tiers whose agents may take it: {tier}, widened to {tier, tier+1, …} by SLA overflow
  ADD COLUMN tiers int[] NOT NULL DEFAULT '{}',
  ADD COLUMN sla_deadline timestamptz,
  ADD COLUMN overflows int NOT NULL DEFAULT 0,
  -- reopened conversations go to their previous agent first when that agent can take them
  ADD COLUMN preferred_agent_id text;
CREATE INDEX queue_entries_sla ON queue_entries (sla_deadline);

-- Customer attributes from omni.customers.v1 (history owns customers), one row per identity.
CREATE TABLE customer_profiles (
  identity text PRIMARY KEY,
  customer_id text NOT NULL,
  display_name text,
  attributes jsonb NOT NULL DEFAULT '{}',
  version int NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
