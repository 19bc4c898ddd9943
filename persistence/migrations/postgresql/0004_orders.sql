-- Orders and what makes them durable (DESIGN principles 1 and 2): the order
-- row (state + version), its append-only event log, its armed timers and its
-- pending side effects (outbox). One transition writes all of them in one
-- transaction, so an order actor can always be rebuilt from these rows.
-- The same SQL runs on SQLite and PostgreSQL.

CREATE TABLE orders (
  id               TEXT PRIMARY KEY,             -- UUIDv7
  product_id       TEXT NOT NULL REFERENCES products (id),
  buyer_email      TEXT NOT NULL,                -- guests buy without an account
  buyer_id         TEXT REFERENCES users (id),   -- NULL for a guest
  amount           BIGINT NOT NULL CHECK (amount > 0),  -- minor units
  currency         TEXT NOT NULL CHECK (currency IN ('NGN', 'USD')),
  -- The flow template pinned at creation: editing a template changes new
  -- orders only, and the hash tells a changed template under the same version.
  flow             TEXT NOT NULL,
  flow_version     INTEGER NOT NULL,
  flow_hash        TEXT NOT NULL,
  state            TEXT NOT NULL,                -- a state of the pinned flow
  -- Optimistic concurrency: every transition is "UPDATE ... WHERE version =
  -- expected", so two nodes racing on one order cannot both win.
  version          INTEGER NOT NULL CHECK (version > 0),
  step_index       INTEGER NOT NULL,             -- next step of the state
  step_attempt     INTEGER NOT NULL,             -- attempts of that step
  last_error       TEXT,
  state_entered_at TEXT NOT NULL,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);

CREATE INDEX orders_product ON orders (product_id);
CREATE INDEX orders_buyer ON orders (buyer_id);
CREATE INDEX orders_state ON orders (state);

-- Append-only history; seq numbers an order's events 1, 2, ... and the
-- UNIQUE makes two writers appending the same seq fail instead of
-- interleaving. The UNIQUE's index also serves the foreign key.
CREATE TABLE order_events (
  id         TEXT PRIMARY KEY,
  order_id   TEXT NOT NULL REFERENCES orders (id),
  seq        INTEGER NOT NULL,
  event      TEXT NOT NULL,
  from_state TEXT,                               -- NULL for the first event
  to_state   TEXT,
  actor      TEXT NOT NULL,                      -- 'system', 'gateway', 'operator:<id>', ...
  detail     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (order_id, seq)
);

-- Durable timers: a node claims due rows with a lease (claimed_by,
-- claimed_until), so a crashed node's claims expire and another node fires
-- them.
CREATE TABLE timers (
  id            TEXT PRIMARY KEY,
  order_id      TEXT NOT NULL REFERENCES orders (id),
  kind          TEXT NOT NULL CHECK (kind IN ('state_timeout', 'step_retry')),
  event         TEXT NOT NULL,                   -- what the order receives when it fires
  due_at        TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('pending', 'fired', 'cancelled')),
  claimed_by    TEXT,                            -- node id
  claimed_until TEXT,
  created_at    TEXT NOT NULL
);

CREATE INDEX timers_due ON timers (status, due_at);
CREATE INDEX timers_order ON timers (order_id);

-- Side effects enqueued by a transition and run after its commit. The
-- idempotency key is unique so replaying a transition's effects never
-- enqueues one twice; it also travels to the service that runs the action.
CREATE TABLE outbox (
  id              TEXT PRIMARY KEY,
  order_id        TEXT NOT NULL REFERENCES orders (id),
  action          TEXT NOT NULL,                 -- e.g. 'wallet.credit_sale'
  params          TEXT NOT NULL,                 -- JSON text
  idempotency_key TEXT NOT NULL UNIQUE,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
  attempts        INTEGER NOT NULL CHECK (attempts >= 0),
  last_error      TEXT,
  created_at      TEXT NOT NULL,
  done_at         TEXT
);

CREATE INDEX outbox_status ON outbox (status);
CREATE INDEX outbox_order ON outbox (order_id);
