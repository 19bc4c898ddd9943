-- A creator's sales listed from an index of their own: `orders.creator_id`
-- (the product's creator, which never changes). Before, the listing joined
-- products and walked every order newest first until it had a page of the
-- creator's, slow for a creator who sold little in a busy shop. A trigger
-- sets the column on every new order, whoever writes it (older nodes
-- during a rolling upgrade too). Adding a column without a default is
-- instant; the existing rows and the index come in 0021, which holds only
-- writes, not reads. docs/operations.md, "Upgrading".
ALTER TABLE orders ADD COLUMN creator_id TEXT;

CREATE FUNCTION orders_fill_creator() RETURNS trigger AS $$
BEGIN
  IF NEW.product_id IS NOT NULL THEN
    SELECT p.creator_id INTO NEW.creator_id FROM products p
      WHERE p.id = NEW.product_id;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER orders_creator BEFORE INSERT ON orders
  FOR EACH ROW EXECUTE FUNCTION orders_fill_creator();
