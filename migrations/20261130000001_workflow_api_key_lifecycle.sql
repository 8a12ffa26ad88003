-- API keys may expire, and record when they were last used (to the minute: a request updates
-- the row only when the recorded time is a minute old, so busy keys cost no write per request).

ALTER TABLE workflow_api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;
ALTER TABLE workflow_api_keys ADD COLUMN IF NOT EXISTS last_used_at timestamptz;
