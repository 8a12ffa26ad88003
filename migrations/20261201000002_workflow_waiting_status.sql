-- Runs parked on a wait are `WAITING` (they were `RUNNING`): the sweeper's search for open runs
-- to ask Temporal about covers both.

CREATE INDEX IF NOT EXISTS idx_workflow_runs_open_reconciled
    ON workflow_runs (reconciled_at NULLS FIRST) WHERE status IN ('RUNNING', 'WAITING');
