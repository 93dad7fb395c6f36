-- Right to be forgotten (docs/access-control.md#erasure): one row per erasure request, advanced step by
-- step so an erasure interrupted by a crash resumes where it stopped. It keeps only opaque customer
-- ids, never an address or a message.
CREATE TABLE erasures (
  id text PRIMARY KEY,
  customer_id text NOT NULL,
  members text[] NOT NULL,
  requested_by text NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  step text NOT NULL DEFAULT 'timeline',
  done_at timestamptz
);
CREATE INDEX erasures_pending ON erasures (requested_at) WHERE done_at IS NULL;
