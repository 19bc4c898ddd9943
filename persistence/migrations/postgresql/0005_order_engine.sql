-- What the order engine needs beyond 0004. The same SQL runs on SQLite and
-- PostgreSQL.

-- The text of every flow template an order ever started with, keyed by its
-- SHA-256, so an order finishes on the template it pinned even after the file
-- on disk changed or disappeared.
CREATE TABLE flow_templates (
  hash       TEXT PRIMARY KEY,                  -- SHA-256 hex of source
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL CHECK (version > 0),
  source     TEXT NOT NULL,                     -- the YAML, byte for byte
  created_at TEXT NOT NULL
);

CREATE INDEX flow_templates_name ON flow_templates (name, version);

-- An order the engine parked (state 'needs_attention': it kept crashing, or a
-- check failed) remembers the state it was in, so an operator can resume it.
ALTER TABLE orders ADD COLUMN parked_from TEXT;

-- An event delivered twice (a webhook retried, a timer fired on two nodes)
-- carries the same key; the second is refused instead of recorded.
ALTER TABLE order_events ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX order_events_dedup ON order_events (order_id, dedup_key)
  WHERE dedup_key IS NOT NULL;

-- The lease on a pending side effect: until claimed_until someone is running
-- or waiting to retry it. Start-up recovery and the periodic sweep only pick
-- rows whose lease ran out, so a live node's work is not started twice.
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
CREATE INDEX outbox_lease ON outbox (status, claimed_until);
