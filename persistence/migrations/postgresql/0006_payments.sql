-- Payments (DESIGN principles 3 and 4): what we asked the gateway for and
-- what it told us, the gateway's events as received, refunds, and the
-- answers to idempotent requests. The same SQL runs on SQLite and PostgreSQL.

-- One charge per order. `reference` is ours and unique: the gateway refuses
-- a reused one, and webhooks, the returning browser and reconciliation all
-- find the payment by it. A payment is settled once (status leaves
-- 'initialized' only through a guarded update) with the verify answer kept
-- as evidence.
CREATE TABLE payments (
  id                  TEXT PRIMARY KEY,
  order_id            TEXT NOT NULL REFERENCES orders (id),
  gateway             TEXT NOT NULL,
  reference           TEXT NOT NULL UNIQUE,
  amount              BIGINT NOT NULL CHECK (amount > 0),
  currency            TEXT NOT NULL,
  email               TEXT NOT NULL,
  status              TEXT NOT NULL
    CHECK (status IN ('initialized', 'succeeded', 'failed', 'mismatch')),
  authorization_url   TEXT NOT NULL,
  access_code         TEXT NOT NULL,
  gateway_status      TEXT NOT NULL,             -- the last word of verify
  gateway_id          TEXT,                      -- the gateway's transaction id (u64)
  settled_by          TEXT,                      -- webhook, callback, reconciliation
  evidence            TEXT,                      -- verify's data when settled
  checks              INTEGER NOT NULL CHECK (checks >= 0),
  next_check_at       TEXT NOT NULL,             -- reconciliation's next look
  check_claimed_until TEXT,                      -- a node is looking now
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  settled_at          TEXT
);

CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX payments_due ON payments (status, next_check_at);

-- Gateway events exactly as received (raw body), one row per distinct
-- event: a retried or duplicated delivery hits the UNIQUE and is
-- acknowledged without a second row. Rows are processed after the
-- acknowledgement, with retries (attempts, next_attempt_at) and a lease.
CREATE TABLE inbox (
  id              TEXT PRIMARY KEY,
  gateway         TEXT NOT NULL,
  event_key       TEXT NOT NULL,
  event           TEXT NOT NULL,
  reference       TEXT NOT NULL,
  payload         TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('received', 'processed', 'ignored')),
  attempts        INTEGER NOT NULL CHECK (attempts >= 0),
  next_attempt_at TEXT NOT NULL,
  claimed_until   TEXT,
  last_error      TEXT,
  received_at     TEXT NOT NULL,
  processed_at    TEXT,
  UNIQUE (gateway, event_key)
);

CREATE INDEX inbox_due ON inbox (status, next_attempt_at);

-- Refunds asked of the gateway. The idempotency key is the flow step's, so
-- a retried step finds its refund instead of asking twice. 'asking' is held
-- (until asking_until) while one node asks the gateway; a row left 'asking'
-- means the answer was lost, and it is never asked again automatically.
CREATE TABLE refunds (
  id              TEXT PRIMARY KEY,
  order_id        TEXT NOT NULL REFERENCES orders (id),
  payment_id      TEXT NOT NULL REFERENCES payments (id),
  idempotency_key TEXT NOT NULL UNIQUE,
  amount          BIGINT NOT NULL CHECK (amount > 0),
  currency        TEXT NOT NULL,
  status          TEXT NOT NULL
    CHECK (status IN ('requested', 'asking', 'pending', 'processed', 'failed')),
  asking_until    TEXT,
  gateway_id      TEXT,
  last_error      TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  processed_at    TEXT
);

CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- Idempotency-Key requests: the first request's answer is kept and replayed
-- for the same key and body; the same key with another body is refused.
-- 'started' rows are held by a request in flight until locked_until.
CREATE TABLE idempotency_keys (
  scope           TEXT NOT NULL,                 -- e.g. 'orders:<user id>' or 'orders:guest'
  idem_key        TEXT NOT NULL,
  request_hash    TEXT NOT NULL,                 -- SHA-256 of the request
  status          TEXT NOT NULL CHECK (status IN ('started', 'done')),
  response_status INTEGER,
  response_body   TEXT,
  locked_until    TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (scope, idem_key)
);
