-- Accounts, sessions, API keys and the per-email login throttle.
-- Tokens and keys are stored only as SHA-256 hashes; passwords as Argon2id.

CREATE TABLE users (
  id            TEXT PRIMARY KEY,              -- UUIDv7
  email         TEXT NOT NULL UNIQUE,          -- normalised (trimmed, lowercase)
  password_hash TEXT NOT NULL,                 -- libsodium crypto_pwhash_str
  role          TEXT NOT NULL CHECK (role IN ('customer', 'creator', 'operator')),
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

CREATE TABLE sessions (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT,
  remote     TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  CHECK (expires_at > created_at)
);

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  prefix       TEXT NOT NULL,                  -- first characters, for display
  key_hash     TEXT NOT NULL UNIQUE,
  created_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
);

CREATE INDEX api_keys_user_id ON api_keys (user_id);

-- Keyed by email whether or not an account exists, so throttling reveals
-- nothing about which emails are registered.
CREATE TABLE login_throttle (
  email           TEXT PRIMARY KEY,
  failures        INTEGER NOT NULL CHECK (failures >= 0),
  last_failure_at TEXT NOT NULL,
  blocked_until   TEXT
);
