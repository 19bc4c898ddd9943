-- A creator's sales listed from an index of their own: `orders.creator_id`
-- (the product's creator, which never changes). Before, the listing joined
-- products and walked every order newest first until it had a page of the
-- creator's, slow for a creator who sold little in a busy shop. A trigger
-- fills the column for every new order, whoever writes it (older nodes
-- during a rolling upgrade too). docs/operations.md, "Upgrading".
ALTER TABLE orders ADD COLUMN creator_id TEXT;

CREATE TRIGGER orders_creator AFTER INSERT ON orders
  WHEN NEW.creator_id IS NULL AND NEW.product_id IS NOT NULL
BEGIN
  UPDATE orders SET creator_id = (SELECT p.creator_id FROM products p
                                  WHERE p.id = NEW.product_id)
    WHERE id = NEW.id;
END;

UPDATE orders SET creator_id = (SELECT p.creator_id FROM products p
                                WHERE p.id = orders.product_id)
  WHERE product_id IS NOT NULL;

CREATE INDEX orders_creator_listed ON orders (creator_id, created_at, id);
