-- Balances in stripes (issue 11: every sale updated the same two platform
-- rows and held them until its commit was on disk, so sales queued behind
-- each other). An account's balance is its row's `balance` plus the sum of
-- its stripes. A change no rule guards (a credit to any account but a
-- debt, a debit of an account that may go negative) is added to one of 16
-- stripes chosen by the posting's key, so concurrent sales rarely wait for
-- each other. A guarded change (a debit of a protected account, a debt's
-- repayment) first folds the account's stripes into its row, under their
-- locks, then applies the guard to the whole balance on the row, whose
-- CHECK still holds. Stripes of a protected account only ever hold credits.
CREATE TABLE ledger_stripes (
  account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
  stripe     INTEGER NOT NULL CHECK (stripe >= 0 AND stripe < 16),
  balance    BIGINT NOT NULL,
  PRIMARY KEY (account_id, stripe)
);
