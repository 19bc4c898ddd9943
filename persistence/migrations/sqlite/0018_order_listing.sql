-- Order lists (GET /api/v1/orders: a buyer's purchases, a creator's sales,
-- an operator's console) go newest first, a page at a time after the last
-- one seen as (created_at, id). Each filter's index ends in those columns,
-- so a page is read in order from it instead of sorting every match: all
-- orders, one state (an operator looking for parked orders), one product,
-- one buyer, one buyer's email.
CREATE INDEX orders_created ON orders (created_at, id);
DROP INDEX orders_state;
CREATE INDEX orders_state ON orders (state, created_at, id);
DROP INDEX orders_product;
CREATE INDEX orders_product ON orders (product_id, created_at, id);
DROP INDEX orders_buyer;
CREATE INDEX orders_buyer ON orders (buyer_id, created_at, id);
DROP INDEX orders_buyer_email;
CREATE INDEX orders_buyer_email ON orders (buyer_email, created_at, id);
