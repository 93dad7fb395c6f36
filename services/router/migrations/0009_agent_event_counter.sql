-- Agent console events are numbered by a per-agent counter row, updated in the statement that
-- writes the events (store/agent-events.ts insertAgentEvents): one round trip where the advisory
-- lock (0004) plus max(agent_events.seq) took two. The counter's row lock is what the advisory lock
-- was — held from numbering to commit, so each agent's log is in commit order — and it is its own
-- row, not router.agents: an offer holds the agent's row from its capacity check to commit, and a
-- counter there made every accept, reply and presence change wait for whole offer transactions
-- (why 0004 dropped agents.next_seq).
-- Every replica must run the code of this migration: an older replica numbering by max(seq) would
-- collide with the counter on agent_events' primary key (refused, retried — never a duplicate).
CREATE TABLE agent_event_seqs (
  agent_id text PRIMARY KEY REFERENCES agents (id),
  seq bigint NOT NULL
);

INSERT INTO agent_event_seqs (agent_id, seq)
SELECT agent_id, max(seq) FROM agent_events GROUP BY agent_id;

-- Console liveness, refreshed by the replica holding the console every sweep interval, in its own
-- table: the heartbeat was `UPDATE agents SET seen_at` over all of a replica's agents, which waited
-- for every offer transaction holding one of those agent rows while holding the rows it had already
-- updated — under load each accept and offer of those agents queued behind it (pg_stat_statements,
-- bench:router at 100 msg/s: 8.7 ms of lock wait per routed message). agents.seen_at stays the
-- attach time; the console is alive while either is recent.
CREATE TABLE console_liveness (
  session_id text PRIMARY KEY,
  seen_at timestamptz NOT NULL
);
