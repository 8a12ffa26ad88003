-- The tenant's audit trail (ours): what callers of the API changed (publishes, workflow
-- settings, keys, schedules, cancels, replays, redrives, answered tasks) and with which key.
-- Runs have their own log in `workflow_run_logs`, which the worker now writes too.

CREATE TABLE IF NOT EXISTS workflow_audit_logs (
    audit_id uuid PRIMARY KEY,
    tenant uuid NOT NULL,
    key_id uuid,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    details jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_workflow_audit_logs_tenant_created
    ON workflow_audit_logs (tenant, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_workflow_audit_logs_tenant_target
    ON workflow_audit_logs (tenant, target_type, target_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_workflow_run_logs_tenant_created
    ON workflow_run_logs (tenant, created_at);
