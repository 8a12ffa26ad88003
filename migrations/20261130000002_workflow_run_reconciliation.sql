-- When the worker last asked Temporal about a run that looked idle, so the read model can be
-- reconciled with runs Temporal closed without an activation (terminated, timed out, reset)
-- without asking about every waiting run on every pass.

ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS reconciled_at timestamptz;
CREATE INDEX IF NOT EXISTS idx_workflow_runs_running_reconciled
    ON workflow_runs (reconciled_at NULLS FIRST) WHERE status = 'RUNNING';
