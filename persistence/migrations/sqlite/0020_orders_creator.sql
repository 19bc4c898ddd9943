-- A creator's sales listed from an index of their own: `orders.creator_id`
-- (the product's creator, which never changes). Before, the listing joined
-- products and walked every order newest first until it had a page of the
-- creator's, slow for a creator who sold little in a busy shop. A trigger
-- sets the column on every new order, whoever writes it (older nodes
-- during a rolling upgrade too). The existing rows and the index come in
-- 0021. docs/operations.md, "Upgrading".
ALTER TABLE orders ADD COLUMN creator_id TEXT;

CREATE TRIGGER orders_creator AFTER INSERT ON orders
  WHEN NEW.product_id IS NOT NULL
BEGIN
  UPDATE orders SET creator_id = (SELECT p.creator_id FROM products p
                                  WHERE p.id = NEW.product_id)
    WHERE id = NEW.id;
END;
