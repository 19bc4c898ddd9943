-- Delivery: download grants and their links, and the email outbox.
--
-- A grant is a buyer's right to one file of an order: how many downloads,
-- until when. Its links are the URLs that reach it; a link's token is
-- random (256 bits) and only its SHA-256 is stored, so the database alone
-- never gives anyone a working link. A newer link of a grant replaces the
-- older ones (they answer 410 "replaced").
CREATE TABLE download_grants (
  id               TEXT PRIMARY KEY,
  order_id         TEXT NOT NULL REFERENCES orders (id),
  product_id       TEXT NOT NULL REFERENCES products (id),
  file_id          TEXT NOT NULL REFERENCES product_files (id),
  max_downloads    INTEGER NOT NULL CHECK (max_downloads > 0),
  downloads        INTEGER NOT NULL DEFAULT 0
                   CHECK (downloads >= 0 AND downloads <= max_downloads),
  lifetime_ms      BIGINT NOT NULL CHECK (lifetime_ms > 0),
  expires_at       TEXT NOT NULL,
  revoked_at       TEXT,
  revoked_reason   TEXT,
  -- The last download that was counted, and who made it (a hash of the
  -- client's address and user agent): a resume or a repeated click from
  -- the same client shortly after is the same download.
  last_counted_at  TEXT,
  last_client      TEXT,
  last_download_at TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  UNIQUE (order_id, file_id)
);
CREATE INDEX download_grants_product ON download_grants (product_id);
CREATE INDEX download_grants_file ON download_grants (file_id);

CREATE TABLE download_links (
  token_hash  TEXT PRIMARY KEY,
  grant_id    TEXT NOT NULL REFERENCES download_grants (id),
  created_at  TEXT NOT NULL,
  replaced_at TEXT
);
CREATE INDEX download_links_grant ON download_links (grant_id);

-- Emails to send. A row is written in the transaction of what causes it
-- (links issued, a receipt asked for) and sent after commit by the email
-- actor; its Message-ID is fixed here, and the message is stored whole, so
-- a send repeated after a crash is the same message. The message holds
-- download links, so it is cleared once sent.
CREATE TABLE email_outbox (
  id              TEXT PRIMARY KEY,
  dedupe_key      TEXT NOT NULL UNIQUE,
  order_id        TEXT REFERENCES orders (id),
  template        TEXT NOT NULL,
  recipient       TEXT NOT NULL,
  message_id      TEXT NOT NULL UNIQUE,
  subject         TEXT NOT NULL,
  message         TEXT,
  status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  claimed_until   TEXT,
  last_error      TEXT,
  sent_at         TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
CREATE INDEX email_outbox_order ON email_outbox (order_id);
