-- A tenant's own human-task types and their forms (persistence-and-api.md §1.3): a `human.task`
-- step of a type the tenant defined takes the tenant's form; other types fall back to the system
-- catalog. `workflow_form_schemas` holds the JSON Schema documents, `workflow_task_definitions`
-- the types that name them, both per tenant.

CREATE TABLE IF NOT EXISTS workflow_form_schemas (
    form_id uuid PRIMARY KEY,
    tenant uuid NOT NULL,
    name text NOT NULL,
    json_schema jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS workflow_task_definitions (
    task_definition_id uuid PRIMARY KEY,
    tenant uuid NOT NULL,
    name text NOT NULL,
    description text,
    form_id uuid NOT NULL REFERENCES workflow_form_schemas (form_id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS workflow_task_definitions_tenant_name_unique
    ON workflow_task_definitions (tenant, name);
