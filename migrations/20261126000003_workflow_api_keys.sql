-- API keys of the HTTP API: stored only as blake3 hashes, each bound to one tenant and a role
-- (read < manage < publish-or-manage < admin, as persistence-and-api.md §2.2 orders them).

CREATE TABLE IF NOT EXISTS workflow_api_keys (
    key_id uuid PRIMARY KEY,
    tenant uuid NOT NULL,
    name text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('read', 'manage', 'publish', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
