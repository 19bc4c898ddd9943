-- One row per cause (an order) whose money the ledger attributes within a
-- shared account (a creator's `pending` holds many sales): a posting that
-- takes such money first upserts the cause's row, which holds a row lock
-- until it commits, then checks what the cause still has there. Two
-- postings racing on one cause (a hold's release and a refund) are thereby
-- serialised, and the second sees what the first took.
CREATE TABLE ledger_cause_locks (
  cause_id   TEXT PRIMARY KEY,
  touched_at TEXT NOT NULL
);
