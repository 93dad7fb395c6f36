-- People who sign in (docs/access-control.md). The router owns accounts because it already owns the
-- agents (an agent's account id is its agent id) and mints the tokens every service verifies.
CREATE TABLE accounts (
  id text PRIMARY KEY,
  username text NOT NULL UNIQUE,
  role text NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
  password_hash text NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  -- failed sign-ins since the last success or lock; at SIGNIN_MAX_FAILURES the account locks until locked_until
  failed_attempts int NOT NULL DEFAULT 0,
  locked_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  password_changed_at timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens, stored only as SHA-256 digests. Each refresh uses one up (used_at) and issues the
-- next in the same family; presenting a used one again revokes the whole family (a stolen copy).
CREATE TABLE refresh_tokens (
  digest text PRIMARY KEY,
  account_id text NOT NULL REFERENCES accounts (id),
  family text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_expired ON refresh_tokens (expires_at);

-- The audit trail of human actions (libs/auth recordAudit / GET /v1/audit). Append-only for every
-- role the services connect as, the table owner included: the trigger refuses UPDATE, DELETE and
-- TRUNCATE (only a superuser who disables the trigger could rewrite it, and that is itself visible).
CREATE TABLE audit_log (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor_sub text,
  actor_role text,
  actor_issuer text,
  action text NOT NULL,
  outcome text NOT NULL DEFAULT 'ok',
  target_type text,
  target_id text,
  before jsonb,
  after jsonb,
  origin_ip text,
  user_agent text,
  request_id text
);
CREATE INDEX audit_log_actor ON audit_log (actor_sub, seq);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $fn$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
