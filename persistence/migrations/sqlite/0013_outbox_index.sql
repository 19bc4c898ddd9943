-- outbox_lease (status, claimed_until) serves every query by status, so the
-- index on status alone only cost every outbox write (three rows per order,
-- each inserted and updated once) another index entry.
DROP INDEX outbox_status;
