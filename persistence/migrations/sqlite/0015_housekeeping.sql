-- Sessions and idempotency keys are deleted once past their time
-- (persistence::prune, run by soukd's housekeeping): these indexes find
-- them without reading the whole table.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
