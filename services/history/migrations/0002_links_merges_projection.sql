-- Identity links, reversible merges, the customers.v1 outbox and the conversations projection.

-- A merged customer points at the customer it was merged into; its own rows never move, so an
-- unmerge (clearing the pointer) gives back exactly the history it had.
ALTER TABLE customers
  ADD COLUMN merged_into text REFERENCES customers (id),
  ADD COLUMN version int NOT NULL DEFAULT 0,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX customers_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;

-- The evidence key (e.g. "phone:+34600112233") through which an identity was linked, if any.
ALTER TABLE identities ADD COLUMN linked_via text;

-- Strong contact evidence seen on each identity: same key on two identities = same person.
CREATE TABLE identity_evidence (
  key text NOT NULL,
  channel text NOT NULL,
  address text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (key, channel, address),
  FOREIGN KEY (channel, address) REFERENCES identities (channel, address)
);

CREATE TABLE merges (
  id text PRIMARY KEY,
  source_id text NOT NULL REFERENCES customers (id),
  target_id text NOT NULL REFERENCES customers (id),
  reason text NOT NULL,
  evidence text,
  actor text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  undone_at timestamptz,
  undone_by text,
  undo_reason text,
  CHECK (source_id <> target_id)
);
CREATE INDEX merges_source ON merges (source_id);
CREATE INDEX merges_target ON merges (target_id);
-- at most one live merge per source customer
CREATE UNIQUE INDEX merges_live_source ON merges (source_id) WHERE undone_at IS NULL;

CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  key text NOT NULL,
  schema_id text NOT NULL,
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Follows merged_into to the customer that currently represents this one.
CREATE FUNCTION root_customer(cid text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE cur text := cid; nxt text;
BEGIN
  FOR i IN 1..1000 LOOP
    SELECT merged_into INTO nxt FROM history.customers WHERE id = cur;
    IF nxt IS NULL THEN RETURN cur; END IF;
    cur := nxt;
  END LOOP;
  RAISE EXCEPTION 'merge chain too long at %', cid;
END $$;

-- One row per conversation, recomputed from the conversation's timeline rows whenever one of them
-- arrives (a replay, so redelivery and cross-topic order do not matter). KPIs read only this table.
CREATE TABLE conversations (
  id text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES customers (id),
  channel text NOT NULL,
  thread_key text,
  category text,
  status text NOT NULL,
  first_tier int,
  tier int,
  resolved_tier int,
  tier_path int[] NOT NULL DEFAULT '{}',
  agents text[] NOT NULL DEFAULT '{}',
  escalations jsonb NOT NULL DEFAULT '[]',
  queue_waits jsonb NOT NULL DEFAULT '[]',
  message_ids text[] NOT NULL DEFAULT '{}',
  opened_at timestamptz,
  first_response_at timestamptz,
  resolved_at timestamptz,
  csat_score int,
  csat_comment text,
  csat_at timestamptz,
  last_event_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_opened ON conversations (opened_at);
CREATE INDEX conversations_customer ON conversations (customer_id, opened_at);
CREATE INDEX timeline_channel ON timeline (customer_id, channel, occurred_at, seq);
