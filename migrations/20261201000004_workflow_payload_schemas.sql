-- The payload schema registry (ours): JSON Schema documents by `payloadSchemaRef`, a tenant's
-- own (`tenant` set) before the system's (`tenant` null). A run's payload is checked against its
-- pinned definition's schema at every start; publishing a new version checks each schedule's
-- payload. Seeded with the system schemas the examples use.

CREATE TABLE IF NOT EXISTS workflow_payload_schemas (
    tenant uuid,
    schema_ref text NOT NULL,
    schema_json jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS workflow_payload_schemas_scope_ref_unique
    ON workflow_payload_schemas
       ((coalesce(tenant, '00000000-0000-0000-0000-000000000000'::uuid)), schema_ref);

INSERT INTO workflow_payload_schemas (tenant, schema_ref, schema_json) VALUES
(NULL, 'payload.Hello.v1', '{
  "type": "object",
  "properties": {"name": {"type": "string", "minLength": 1}},
  "required": ["name"]
}'),
(NULL, 'payload.InboundEmailReceived.v1', '{
  "type": "object",
  "properties": {
    "email": {
      "type": "object",
      "properties": {
        "messageId": {"type": "string"},
        "from": {"type": "object", "properties": {"address": {"type": "string"}}, "required": ["address"]},
        "subject": {"type": "string"},
        "body": {"type": "string"},
        "attachments": {"type": "array", "items": {"type": "object"}}
      },
      "required": ["messageId", "from"]
    },
    "defaults": {"type": "object"}
  },
  "required": ["email"]
}'),
(NULL, 'payload.PurchaseRequested.v1', '{
  "type": "object",
  "properties": {
    "requestId": {"type": "string"},
    "requester": {"type": "string"},
    "amount": {"type": "number", "minimum": 0},
    "lines": {"type": "array", "items": {"type": "object",
      "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
      "required": ["sku", "qty"]}}
  },
  "required": ["requestId", "requester", "lines"]
}'),
(NULL, 'payload.Notify.v1', '{"type": "object"}')
ON CONFLICT DO NOTHING;
