-- The start input of a run whose Temporal workflow is not known to have started yet, kept on
-- its row from the insert until Temporal confirms the start (then cleared). A launcher that died
-- in between, or a Temporal outage during the start, leaves it set: the sweeper then starts the
-- workflow from it (the workflow id is the run's, and Temporal refuses a second start of it, so
-- a start that did happen is never repeated), and an event whose trigger made the row no
-- longer finds its launch blocked by a row that never ran.

ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS pending_start_json jsonb;
CREATE INDEX IF NOT EXISTS idx_workflow_runs_pending_start
    ON workflow_runs (started_at) WHERE pending_start_json IS NOT NULL;
