-- Payouts: the order engine's second user (DESIGN.md). A row of `orders` is
-- now one flow instance of a kind: a buyer's `order` (with its product and
-- buyer, as before) or a creator's `payout` (neither; its details are in
-- `payouts`).
ALTER TABLE orders ADD COLUMN kind TEXT NOT NULL DEFAULT 'order'
  CHECK (kind IN ('order', 'payout'));
ALTER TABLE orders ALTER COLUMN product_id DROP NOT NULL;
ALTER TABLE orders ALTER COLUMN buyer_email DROP NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_kind_fields
  CHECK (kind <> 'order' OR (product_id IS NOT NULL AND buyer_email IS NOT NULL));

-- Where a creator is paid: one gateway transfer recipient per creator and
-- currency. The bank details themselves stay with the gateway; we keep what
-- a creator needs to recognise the account.
CREATE TABLE payout_accounts (
  creator_id     TEXT NOT NULL REFERENCES users (id),
  currency       TEXT NOT NULL CHECK (currency IN ('NGN', 'USD')),
  gateway        TEXT NOT NULL,
  recipient_code TEXT NOT NULL,                 -- RCP_... (Paystack)
  type           TEXT NOT NULL,                 -- nuban, ghipss, mobile_money, basa
  account_name   TEXT NOT NULL,
  bank_code      TEXT NOT NULL,
  account_last4  TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  PRIMARY KEY (creator_id, currency)
);

-- One payout: its flow instance is the `orders` row of the same id (kind
-- 'payout'), which holds its state and timeline; this row holds what the
-- gateway is asked and what it answered. `reference` is fixed when the
-- payout is asked for, so every retry of the transfer carries it and the
-- gateway can never pay twice. `transfer_status` only moves forward
-- (guarded updates); reconciliation asks the gateway about a transfer while
-- `next_check_at` is due ('9999-...' once its flow has the final word).
CREATE TABLE payouts (
  id              TEXT PRIMARY KEY REFERENCES orders (id),
  creator_id      TEXT NOT NULL REFERENCES users (id),
  amount          BIGINT NOT NULL CHECK (amount > 0),
  currency        TEXT NOT NULL CHECK (currency IN ('NGN', 'USD')),
  gateway         TEXT NOT NULL,
  recipient_code  TEXT NOT NULL,
  reference       TEXT NOT NULL UNIQUE,
  transfer_status TEXT NOT NULL
    CHECK (transfer_status IN ('unsent', 'pending', 'success', 'failed', 'reversed')),
  transfer_code   TEXT,                          -- TRF_... once the gateway has it
  gateway_status  TEXT,                          -- the gateway's own word (otp, abandoned, ...)
  reason          TEXT,                          -- why it failed or was reversed
  checks          INTEGER NOT NULL CHECK (checks >= 0),
  next_check_at   TEXT NOT NULL,
  claimed_until   TEXT,
  -- While a node asks the gateway for the transfer: no failure is recorded
  -- (and no money returned) until its answer is in.
  sending_until   TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);

CREATE INDEX payouts_creator ON payouts (creator_id, id);
CREATE INDEX payouts_due ON payouts (next_check_at);
