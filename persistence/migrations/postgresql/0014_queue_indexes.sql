-- The indexes that find work to do (due timers, pending side effects,
-- webhooks to process, emails to send) hold only the rows still to do.
-- Indexed by (status, ...) they kept an entry for every row ever done, so
-- they grew with history, and finishing a row (its status changed) wrote
-- a new entry into them besides the table's other indexes. Every query
-- that uses them names the same status as a literal, which is what lets
-- PostgreSQL and SQLite use a partial index. The pending side effects are
-- keyed by order, the order in which the sweep for unleased ones pages.
DROP INDEX timers_due;
CREATE INDEX timers_due ON timers (due_at) WHERE status = 'pending';
DROP INDEX outbox_lease;
CREATE INDEX outbox_lease ON outbox (order_id, claimed_until)
  WHERE status = 'pending';
DROP INDEX inbox_due;
CREATE INDEX inbox_due ON inbox (next_attempt_at) WHERE status = 'received';
DROP INDEX email_outbox_due;
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at)
  WHERE status = 'queued';
