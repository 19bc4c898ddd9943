-- Licence keys a creator uploads for a product, in named pools ("default"
-- unless a flow names another). `licence.issue_key` gives a paid order the
-- oldest key its pool has left, once per order and pool; a refund revokes
-- the order's keys (they were shown, so they never go back to the pool).
-- docs/licences.md.
CREATE TABLE licence_keys (
  id             TEXT PRIMARY KEY,
  product_id     TEXT NOT NULL REFERENCES products (id),
  pool           TEXT NOT NULL,
  secret         TEXT NOT NULL,
  added_at       TEXT NOT NULL,
  order_id       TEXT REFERENCES orders (id),
  issued_at      TEXT,
  revoked_at     TEXT,
  revoked_reason TEXT,
  UNIQUE (product_id, pool, secret),
  CHECK ((order_id IS NULL) = (issued_at IS NULL)),
  CHECK (revoked_at IS NULL OR order_id IS NOT NULL)
);
-- The next key to issue: the pool's oldest left.
CREATE INDEX licence_keys_left ON licence_keys (product_id, pool, added_at, id)
  WHERE order_id IS NULL;
-- An order's keys, at most one per pool.
CREATE UNIQUE INDEX licence_keys_order ON licence_keys (order_id, pool)
  WHERE order_id IS NOT NULL;
