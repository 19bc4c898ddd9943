-- The operator's views: an order's gateway events are found by its payment
-- reference, and orders are counted by flow and state at every scrape of
-- /metrics.
CREATE INDEX inbox_reference ON inbox (reference);
CREATE INDEX orders_flow_state ON orders (kind, flow, flow_version, state);
