-- KPIs of issues 17 and 18: the wait estimate given at queueing, self-service and the resolution
-- reason on the conversation projection; agent state over time (omni.agents.v1); the router's
-- business-hours versions history has seen, and when each came into force.

ALTER TABLE conversations
  ADD COLUMN wait_estimate jsonb,
  ADD COLUMN self_service_offered boolean NOT NULL DEFAULT false,
  ADD COLUMN resolved_reason text;
-- occupancy reads the conversations still held by an agent, whatever their last event
CREATE INDEX conversations_live ON conversations (last_event_at) WHERE status NOT IN ('resolved', 'closed');

-- One row per omni.agents.v1 event (event_id is the idempotency key: a redelivery is a no-op).
CREATE TABLE agent_events (
  event_id text PRIMARY KEY,
  seq bigserial NOT NULL,
  agent_id text NOT NULL,
  type text NOT NULL,
  occurred_at timestamptz NOT NULL,
  presence text,
  reason text,
  conversation_id text,
  capacity int,
  tiers int[],
  payload jsonb NOT NULL
);
CREATE INDEX agent_events_agent ON agent_events (agent_id, occurred_at, seq);
CREATE INDEX agent_events_time ON agent_events (occurred_at);
-- the handling intervals come from the conversation events that name an agent
CREATE INDEX timeline_agent ON timeline (agent_id, occurred_at) WHERE agent_id IS NOT NULL;

-- The router's business-hours versions (immutable once created, so cached by version number).
-- hours is null for a version history never saw active (the router serves only the active one's hours).
CREATE TABLE business_hours_versions (
  version int PRIMARY KEY,
  hours jsonb,
  created_at timestamptz NOT NULL,
  fetched_at timestamptz NOT NULL DEFAULT now()
);
-- When each version came into force: its creation (a replace activates it at once), or, for a
-- re-activated earlier version, the moment history first saw it active again.
CREATE TABLE business_hours_periods (
  from_at timestamptz NOT NULL,
  version int NOT NULL,
  observed boolean NOT NULL,
  PRIMARY KEY (from_at, version)
);
