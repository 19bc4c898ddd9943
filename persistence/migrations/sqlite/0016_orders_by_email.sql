-- A buyer writing in gives the email they paid with: GET /api/v1/orders
-- ?email= finds their orders (a creator's sales, or all for operators),
-- newest first, without reading the whole table.
CREATE INDEX orders_buyer_email ON orders (buyer_email, created_at);
