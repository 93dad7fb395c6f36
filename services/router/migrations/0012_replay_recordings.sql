-- Issue 19 (docs/replay.md "What is recorded"): what replay needs beyond the topics, each row written
-- in the same transaction as the change it records. Nothing here is pruned: kept at least
-- REPLAY_HORIZON_DAYS (forever today).

-- Every version of an agent's profile with the time it took effect (router.agents holds the current one).
-- Agents that exist when this migration runs get their current profile as version 1, valid from now:
-- what they had before is not known.
CREATE TABLE agent_profile_versions (
  agent_id text NOT NULL,
  version int NOT NULL,
  valid_from timestamptz NOT NULL,
  name text NOT NULL,
  tiers int[] NOT NULL,
  skills text[] NOT NULL,
  languages text[] NOT NULL,
  capacity jsonb NOT NULL,
  proficiency jsonb NOT NULL DEFAULT '{}',
  changed_by text NOT NULL,
  PRIMARY KEY (agent_id, version)
);
CREATE INDEX agent_profile_versions_valid_from ON agent_profile_versions (valid_from);
INSERT INTO agent_profile_versions (agent_id, version, valid_from, name, tiers, skills, languages, capacity, proficiency, changed_by)
  SELECT id, 1, now(), name, tiers, skills, languages, capacity, proficiency, 'migration 0012' FROM agents;

-- When each console session attached and left (live availability is "online and a console attached").
CREATE TABLE agent_console_sessions (
  session_id text PRIMARY KEY,
  agent_id text NOT NULL,
  attached_at timestamptz NOT NULL,
  detached_at timestamptz
);
CREATE INDEX agent_console_sessions_agent ON agent_console_sessions (agent_id, attached_at);
CREATE INDEX agent_console_sessions_open ON agent_console_sessions (agent_id) WHERE detached_at IS NULL;

-- The lifecycle settings in force (env today), a new version each time a starting router finds them changed.
CREATE TABLE lifecycle_settings_versions (
  version int PRIMARY KEY,
  settings jsonb NOT NULL,
  valid_from timestamptz NOT NULL DEFAULT now(),
  recorded_by text NOT NULL
);

-- Replay jobs of the admin API and their reports (a restart marks a running job failed, never loses it).
CREATE TABLE replay_jobs (
  id text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  request jsonb NOT NULL,
  progress jsonb NOT NULL,
  report jsonb,
  error text,
  -- a draft version this replay was run for ("activate after replay")
  target_kind text CHECK (target_kind IN ('rules', 'business-hours')),
  target_version int,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- refreshed while the job runs; a running job not refreshed for a while belongs to a replica that is gone
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX replay_jobs_created ON replay_jobs (created_at DESC);
CREATE INDEX replay_jobs_target ON replay_jobs (target_kind, target_version);

-- "Activate after replay": a draft version (active = false) that can only be activated once a replay
-- of it has completed (its job id here, the report in replay_jobs).
ALTER TABLE rule_sets ADD COLUMN activate_after_replay boolean NOT NULL DEFAULT false, ADD COLUMN replay_job_id text;
ALTER TABLE business_hours ADD COLUMN activate_after_replay boolean NOT NULL DEFAULT false, ADD COLUMN replay_job_id text;
