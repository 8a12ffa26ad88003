-- The Workflow Runtime V2 tables the runtime writes, with the product's table and column names
-- (persistence-and-api.md §1.3, plain-PostgreSQL shape: single-column keys, nullable tenant).
-- Every statement is IF NOT EXISTS so the worker can migrate a database where the product's own
-- migrations already created these tables.

CREATE TABLE IF NOT EXISTS workflow_definitions (
    workflow_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant uuid,
    key text,
    name text NOT NULL,
    description text,
    payload_schema_ref text NOT NULL,
    payload_schema_mode text NOT NULL DEFAULT 'pinned',
    pinned_payload_schema_ref text,
    payload_schema_provenance text,
    trigger jsonb,
    draft_definition jsonb NOT NULL,
    draft_version integer NOT NULL DEFAULT 1,
    status text NOT NULL DEFAULT 'draft',
    validation_status text,
    validation_errors jsonb,
    validation_warnings jsonb,
    validation_context_json jsonb,
    validation_payload_schema_hash text,
    validated_at timestamptz,
    is_system boolean NOT NULL DEFAULT false,
    is_visible boolean NOT NULL DEFAULT true,
    is_paused boolean NOT NULL DEFAULT false,
    concurrency_limit integer,
    auto_pause_on_failure boolean NOT NULL DEFAULT false,
    failure_rate_threshold numeric(5, 2) DEFAULT 0.5,
    failure_rate_min_runs integer DEFAULT 10,
    retention_policy_override jsonb,
    created_by uuid,
    updated_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_workflow_definitions_name ON workflow_definitions (name);
CREATE INDEX IF NOT EXISTS idx_workflow_definitions_tenant_status ON workflow_definitions (tenant, status);
-- The reference loses key uniqueness on plain PostgreSQL (§1.3); we keep it, per tenant.
CREATE UNIQUE INDEX IF NOT EXISTS workflow_definitions_tenant_key_unique
    ON workflow_definitions ((coalesce(tenant, '00000000-0000-0000-0000-000000000000'::uuid)), key)
    WHERE key IS NOT NULL;

CREATE TABLE IF NOT EXISTS workflow_definition_versions (
    version_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant uuid,
    workflow_id uuid NOT NULL REFERENCES workflow_definitions (workflow_id) ON DELETE CASCADE,
    version integer NOT NULL,
    definition_json jsonb NOT NULL,
    payload_schema_json jsonb,
    validation_status text,
    validation_errors jsonb,
    validation_warnings jsonb,
    validated_at timestamptz,
    published_by uuid,
    published_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflow_definition_versions_workflow_version_unique UNIQUE (workflow_id, version)
);

CREATE TABLE IF NOT EXISTS workflow_runs (
    run_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant uuid,
    workflow_id uuid NOT NULL REFERENCES workflow_definitions (workflow_id) ON DELETE CASCADE,
    workflow_version integer NOT NULL,
    status text NOT NULL,
    node_path text,
    input_json jsonb,
    resume_event_payload jsonb,
    resume_event_name text,
    resume_error jsonb,
    error_json jsonb,
    lease_owner text,
    lease_expires_at timestamptz,
    started_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    event_type text,
    source_payload_schema_ref text,
    trigger_mapping_applied boolean NOT NULL DEFAULT false,
    trigger_type text,
    trigger_metadata_json jsonb,
    trigger_fire_key text,
    engine text,
    temporal_workflow_id text,
    temporal_run_id text,
    definition_hash text,
    runtime_semantics_version text,
    parent_run_id uuid,
    root_run_id uuid
);
CREATE INDEX IF NOT EXISTS idx_workflow_runs_status ON workflow_runs (status);
CREATE INDEX IF NOT EXISTS idx_workflow_runs_tenant_status ON workflow_runs (tenant, status);
CREATE INDEX IF NOT EXISTS idx_workflow_runs_workflow_status_updated
    ON workflow_runs (workflow_id, status, updated_at);
CREATE INDEX IF NOT EXISTS idx_workflow_runs_temporal_workflow_id ON workflow_runs (temporal_workflow_id);
CREATE UNIQUE INDEX IF NOT EXISTS workflow_runs_trigger_fire_key_unique
    ON workflow_runs (trigger_fire_key) WHERE trigger_fire_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS workflow_run_steps (
    step_id uuid PRIMARY KEY,
    tenant uuid,
    run_id uuid NOT NULL REFERENCES workflow_runs (run_id) ON DELETE CASCADE,
    step_path text NOT NULL,
    definition_step_id text NOT NULL,
    status text NOT NULL,
    attempt integer NOT NULL DEFAULT 1,
    duration_ms integer,
    error_json jsonb,
    snapshot_id uuid,
    started_at timestamptz NOT NULL,
    completed_at timestamptz
);
CREATE INDEX IF NOT EXISTS idx_workflow_run_steps_run_path ON workflow_run_steps (run_id, step_path);
CREATE INDEX IF NOT EXISTS idx_workflow_run_steps_run_step ON workflow_run_steps (run_id, step_id);

CREATE TABLE IF NOT EXISTS workflow_run_waits (
    wait_id uuid PRIMARY KEY,
    tenant uuid,
    run_id uuid NOT NULL REFERENCES workflow_runs (run_id) ON DELETE CASCADE,
    step_path text NOT NULL,
    wait_type text NOT NULL,
    key text,
    event_name text,
    timeout_at timestamptz,
    status text NOT NULL DEFAULT 'WAITING',
    payload jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE INDEX IF NOT EXISTS idx_workflow_run_waits_type_status ON workflow_run_waits (wait_type, status);
CREATE INDEX IF NOT EXISTS idx_workflow_run_waits_event_key_status
    ON workflow_run_waits (event_name, key, status);

CREATE TABLE IF NOT EXISTS workflow_action_invocations (
    invocation_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant uuid,
    run_id uuid NOT NULL REFERENCES workflow_runs (run_id) ON DELETE CASCADE,
    step_path text NOT NULL,
    action_id text NOT NULL,
    action_version integer NOT NULL,
    idempotency_key text NOT NULL,
    status text NOT NULL,
    attempt integer NOT NULL DEFAULT 1,
    lease_owner text,
    lease_expires_at timestamptz,
    input_json jsonb,
    output_json jsonb,
    error_message text,
    error_json jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    CONSTRAINT workflow_action_invocations_idempotency_unique
        UNIQUE (action_id, action_version, idempotency_key)
);
CREATE INDEX IF NOT EXISTS idx_workflow_action_invocations_run_path
    ON workflow_action_invocations (run_id, step_path);

CREATE TABLE IF NOT EXISTS workflow_run_snapshots (
    snapshot_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant uuid,
    run_id uuid NOT NULL REFERENCES workflow_runs (run_id) ON DELETE CASCADE,
    step_path text NOT NULL,
    envelope_json jsonb NOT NULL,
    size_bytes integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS workflow_runtime_events (
    event_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant uuid,
    event_name text NOT NULL,
    correlation_key text,
    payload jsonb,
    payload_schema_ref text,
    schema_ref_conflict jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    matched_run_id uuid,
    matched_wait_id uuid,
    matched_step_path text,
    error_message text
);
CREATE INDEX IF NOT EXISTS idx_workflow_runtime_events_name_key
    ON workflow_runtime_events (event_name, correlation_key);

CREATE TABLE IF NOT EXISTS workflow_run_logs (
    log_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant uuid,
    run_id uuid NOT NULL REFERENCES workflow_runs (run_id) ON DELETE CASCADE,
    step_id uuid,
    step_path text,
    level text NOT NULL,
    message text NOT NULL,
    context_json jsonb,
    correlation_key text,
    event_name text,
    source text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_workflow_run_logs_run_created ON workflow_run_logs (run_id, created_at);

CREATE TABLE IF NOT EXISTS workflow_tasks (
    task_id uuid NOT NULL,
    tenant uuid NOT NULL,
    execution_id uuid NOT NULL,
    task_definition_type text NOT NULL DEFAULT 'system',
    system_task_definition_task_type text,
    tenant_task_definition_id uuid,
    title text NOT NULL,
    description text,
    event_id text,
    context_data jsonb,
    status text NOT NULL DEFAULT 'pending',
    priority text DEFAULT 'medium',
    assigned_roles jsonb,
    assigned_users jsonb,
    due_date timestamptz,
    completed_at timestamptz,
    completed_by uuid,
    response_data jsonb,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    is_hidden boolean NOT NULL DEFAULT false,
    hidden_at timestamptz,
    hidden_by uuid,
    claimed_at timestamptz,
    claimed_by uuid,
    PRIMARY KEY (task_id, tenant)
);
-- The reference has no index to find a run's tasks (§1.3); ours does.
CREATE INDEX IF NOT EXISTS idx_workflow_tasks_tenant_execution ON workflow_tasks (tenant, execution_id);

CREATE TABLE IF NOT EXISTS tenant_workflow_schedule (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant uuid,
    workflow_id uuid NOT NULL,
    workflow_version integer NOT NULL,
    name text NOT NULL DEFAULT 'Workflow schedule',
    trigger_type varchar(32) NOT NULL,
    run_at timestamptz,
    cron text,
    timezone varchar(64),
    payload_json jsonb NOT NULL DEFAULT '{}'::jsonb,
    day_type_filter text NOT NULL DEFAULT 'any'
        CHECK (day_type_filter IN ('any', 'business', 'non_business')),
    business_hours_schedule_id uuid,
    enabled boolean NOT NULL DEFAULT true,
    status varchar(32) NOT NULL DEFAULT 'scheduled',
    job_id uuid,
    runner_schedule_id varchar(255),
    last_fire_at timestamptz,
    next_fire_at timestamptz,
    last_run_status varchar(32),
    last_error text,
    last_fire_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
