-- Keys that two tenants can both use without meeting.
--
-- Event ids were unique across the database (the reference's rule), so a tenant sending an id
-- another tenant had used was refused, which told it that the id existed elsewhere. They are
-- now unique per tenant: each tenant has its own id space and deduplication.
--
-- The action ledger was unique on (action, version, key). The interpreter already begins every
-- key with the run's tenant, so keys of two tenants never collided; the constraint now names
-- the tenant too (the reference's own index), so a key can never be claimed across tenants
-- whatever computes it.

ALTER TABLE workflow_runtime_events DROP CONSTRAINT IF EXISTS workflow_runtime_events_pkey;
ALTER TABLE workflow_runtime_events
    ADD CONSTRAINT workflow_runtime_events_tenant_event_unique
        UNIQUE NULLS NOT DISTINCT (tenant, event_id);

-- A delivery stays keyed by (event, run): a run belongs to one tenant and only receives its
-- tenant's events. Its tenant, left empty by deliveries the worker made, is filled in so an
-- event's deliveries are found by (tenant, event id).
UPDATE workflow_event_deliveries d SET tenant = r.tenant
    FROM workflow_runs r WHERE r.run_id = d.run_id AND d.tenant IS NULL;

ALTER TABLE workflow_action_invocations
    DROP CONSTRAINT IF EXISTS workflow_action_invocations_idempotency_unique;
ALTER TABLE workflow_action_invocations
    ADD CONSTRAINT workflow_action_invocations_idempotency_unique
        UNIQUE NULLS NOT DISTINCT (tenant, action_id, action_version, idempotency_key);
