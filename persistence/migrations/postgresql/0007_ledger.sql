-- The wallet's double-entry ledger (issue 7). Every movement of money is an
-- immutable entry moving a positive amount, in one currency, from one
-- account (debited) to another (credited); a posting's legs are written in
-- one transaction. An account's balance is its credits minus its debits;
-- the column is kept in step by the same transaction, with a guarded update
-- and a CHECK so that a protected account can never go negative, whatever
-- races. `soukctl ledger check` re-derives every balance from the entries.

CREATE TABLE ledger_accounts (
  id              TEXT PRIMARY KEY,   -- 'creator:<user>:<CUR>:<kind>' or 'platform:<CUR>:<kind>'
  owner_kind      TEXT NOT NULL CHECK (owner_kind IN ('creator', 'platform')),
  owner_id        TEXT NOT NULL,      -- the creator's user id; '' for the platform
  currency        TEXT NOT NULL,
  kind            TEXT NOT NULL,      -- pending, available, in_transit, owed, paid_out; gateway, fees
  may_go_negative INTEGER NOT NULL CHECK (may_go_negative IN (0, 1)),
  balance         BIGINT NOT NULL,
  created_at      TEXT NOT NULL,
  CHECK (may_go_negative = 1 OR balance >= 0),
  UNIQUE (owner_kind, owner_id, currency, kind)
);

CREATE TABLE ledger_entries (
  id              TEXT PRIMARY KEY,
  posting_id      TEXT NOT NULL,      -- the legs of one posting share it
  idempotency_key TEXT NOT NULL UNIQUE,
  debit_account   TEXT NOT NULL REFERENCES ledger_accounts (id),
  credit_account  TEXT NOT NULL REFERENCES ledger_accounts (id),
  amount          BIGINT NOT NULL CHECK (amount > 0),
  currency        TEXT NOT NULL,
  cause_kind      TEXT NOT NULL,      -- sale, hold_release, refund, payout, payout_return, correction
  cause_id        TEXT NOT NULL,      -- the order, refund or payout
  memo            TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  CHECK (debit_account <> credit_account)
);

CREATE INDEX ledger_entries_debit ON ledger_entries (debit_account, created_at);
CREATE INDEX ledger_entries_credit ON ledger_entries (credit_account, created_at);
CREATE INDEX ledger_entries_cause ON ledger_entries (cause_kind, cause_id);
CREATE INDEX ledger_entries_posting ON ledger_entries (posting_id);

-- No entry is ever updated or deleted; corrections are new entries.
CREATE FUNCTION ledger_entries_immutable() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are immutable';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_entries_immutable();

-- When a sale's net leaves `pending` for `available`: one row per sale, a
-- durable timer the wallet's background round claims with a lease. What is
-- released is read from the entries at that moment (a refund may have
-- taken some of it first).
CREATE TABLE wallet_holds (
  order_id      TEXT PRIMARY KEY REFERENCES orders (id),
  creator_id    TEXT NOT NULL,
  currency      TEXT NOT NULL,
  release_at    TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('held', 'released')),
  claimed_until TEXT,
  created_at    TEXT NOT NULL,
  released_at   TEXT
);

CREATE INDEX wallet_holds_due ON wallet_holds (status, release_at);
