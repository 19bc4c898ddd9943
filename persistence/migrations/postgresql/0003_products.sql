-- The catalog: products and their files. Money is integer minor units with
-- its currency; a file's bytes live in storage under a generated key.

CREATE TABLE products (
  id           TEXT PRIMARY KEY,                 -- UUIDv7
  creator_id   TEXT NOT NULL REFERENCES users (id),
  title        TEXT NOT NULL,
  description  TEXT NOT NULL,
  price_amount BIGINT NOT NULL CHECK (price_amount > 0),
  currency     TEXT NOT NULL CHECK (currency IN ('NGN', 'USD')),
  -- Pay what you want: buyers pay at least this (price_amount is suggested).
  min_amount   BIGINT CHECK (min_amount IS NULL
                             OR (min_amount > 0 AND min_amount <= price_amount)),
  flow         TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
  version      INTEGER NOT NULL CHECK (version > 0),
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  published_at TEXT,
  archived_at  TEXT
);

CREATE INDEX products_creator ON products (creator_id, id);
CREATE INDEX products_status ON products (status, id);

CREATE TABLE product_files (
  id           TEXT PRIMARY KEY,                 -- stable across replacement
  product_id   TEXT NOT NULL REFERENCES products (id),
  name         TEXT NOT NULL,                    -- sanitised display name
  storage_key  TEXT NOT NULL UNIQUE,             -- generated, never user input
  size         BIGINT NOT NULL CHECK (size >= 0),
  sha256       TEXT NOT NULL,
  content_type TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  UNIQUE (product_id, name)
);

CREATE INDEX product_files_product ON product_files (product_id);
