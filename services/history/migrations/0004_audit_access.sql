-- Access control (docs/access-control.md): agents see the conversations whose projection lists them
-- (offered, assigned, transferred to, replied) and those conversations' customers; this index
-- answers "did agent A ever serve one of these customers' conversations".
CREATE INDEX conversations_agents ON conversations USING gin (agents);

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
