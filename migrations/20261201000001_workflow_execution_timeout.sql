-- A workflow's own execution timeout (ours): a run of it still open this long after it started
-- is ended `FAILED` with a `TimeoutError` by the sweeper; none means the deployment's
-- (`--run-timeout-secs`, 30 days as in the reference). The index finds open runs by age.

ALTER TABLE workflow_definitions ADD COLUMN IF NOT EXISTS execution_timeout_secs integer
    CHECK (execution_timeout_secs > 0);
CREATE INDEX IF NOT EXISTS idx_workflow_runs_open_started
    ON workflow_runs (started_at) WHERE status IN ('RUNNING', 'WAITING');
