-- Agent console events are numbered from max(agent_events.seq) under a transaction-level advisory
-- lock per agent, taken just before commit, instead of a counter on the agents row: an offer holds
-- the agent's row lock from its capacity check to commit, and numbering under that same lock made
-- every accept, reply and presence change of the agent wait for whole offer transactions.
-- agent_events' primary key (agent_id, seq) still rejects a duplicate number outright.
ALTER TABLE agents DROP COLUMN next_seq;
