-- The global catalogs a human task's form schema comes from (persistence-and-api.md §5.6):
-- a system task type names its form, the form holds the JSON Schema its response must satisfy.

CREATE TABLE IF NOT EXISTS system_workflow_form_definitions (
    name text PRIMARY KEY,
    json_schema jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS system_workflow_task_definitions (
    task_type text PRIMARY KEY,
    name text NOT NULL,
    description text,
    form_id text,
    form_type text NOT NULL DEFAULT 'system',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
