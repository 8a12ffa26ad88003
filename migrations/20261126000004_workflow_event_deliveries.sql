-- Which runs each event was delivered to. Ingress (when an event arrives) and the worker (when
-- a run registers an event wait) both deliver; whoever inserts the row first sends the signal,
-- so an event that arrived before its wait still reaches it, exactly once per run.
CREATE TABLE IF NOT EXISTS workflow_event_deliveries (
    event_id uuid NOT NULL,
    run_id uuid NOT NULL,
    tenant uuid,
    delivered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, run_id)
);
CREATE INDEX IF NOT EXISTS idx_workflow_runtime_events_tenant_name_key_created
    ON workflow_runtime_events (tenant, event_name, correlation_key, created_at);
