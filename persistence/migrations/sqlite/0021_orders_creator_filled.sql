-- The creator of every order written before 0020 (its trigger sets it on
-- new ones), and the index a creator's sales are listed from. One pass over
-- `orders`: order writes wait for it, reads do not.
UPDATE orders SET creator_id = (SELECT p.creator_id FROM products p
                                WHERE p.id = orders.product_id)
  WHERE product_id IS NOT NULL AND creator_id IS NULL;

CREATE INDEX orders_creator_listed ON orders (creator_id, created_at, id);
