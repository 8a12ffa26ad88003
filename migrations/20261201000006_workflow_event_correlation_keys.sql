-- Every correlation key an event read from its payload (ours), primary first: the event bus's
-- events resume a run waiting on any of them, as the reference's stream worker tries every
-- derived key. Null: the event has only `correlation_key` (an explicit one, or the API's).

ALTER TABLE workflow_runtime_events ADD COLUMN IF NOT EXISTS correlation_keys text[];
CREATE INDEX IF NOT EXISTS idx_workflow_runtime_events_correlation_keys
    ON workflow_runtime_events USING gin (correlation_keys) WHERE correlation_keys IS NOT NULL;
