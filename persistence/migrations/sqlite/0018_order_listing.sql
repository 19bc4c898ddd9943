-- Order lists (GET /api/v1/orders: a buyer's purchases, a creator's sales,
-- an operator's console) go newest first, a page at a time after the last
-- one seen as (created_at, id). Each filter's index ends in those columns,
-- so a page is read in order from it instead of sorting every match: all
-- orders, one state (an operator looking for parked orders), one product,
-- one buyer, one buyer's email.
--
-- The new indexes are built first and the ones they replace dropped last:
-- while they build, orders can be read but not written (seconds per
-- million orders); the drops take the table's exclusive lock only for the
-- moment before the migration commits (docs/operations.md, "Upgrading").
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_state_listed ON orders (state, created_at, id);
CREATE INDEX orders_product_listed ON orders (product_id, created_at, id);
CREATE INDEX orders_buyer_listed ON orders (buyer_id, created_at, id);
CREATE INDEX orders_buyer_email_listed ON orders (buyer_email, created_at, id);
DROP INDEX orders_state;
DROP INDEX orders_product;
DROP INDEX orders_buyer;
DROP INDEX orders_buyer_email;
