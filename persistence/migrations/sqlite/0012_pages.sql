-- The web pages: a guest buyer follows an order with the access token the
-- checkout answered with (only its SHA-256 is kept, like download links),
-- and signed-in users list orders: a buyer's purchases, a creator's sales.
CREATE TABLE order_access (
  order_id   TEXT PRIMARY KEY REFERENCES orders (id),
  token_hash TEXT NOT NULL
);
DROP INDEX orders_buyer;
DROP INDEX orders_product;
CREATE INDEX orders_buyer ON orders (buyer_id, created_at);
CREATE INDEX orders_product ON orders (product_id, created_at);
