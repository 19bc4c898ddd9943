#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "souk/core/log.hpp"

/// souk's configuration as plain structs. Every field has its default here;
/// `config/souk.example.yaml` documents each one with the same default, and
/// `loader.hpp` fills them from a YAML file, `SOUK_*` variables and flags.
namespace souk::config {

using std::chrono::milliseconds;

/// The HTTP server (`http:` in the file).
struct http_settings {
  /// Largest request body accepted, in bytes; larger bodies get 413.
  uint64_t body_limit = 1 << 20;
  /// Largest request header block accepted, in bytes; larger gets 431.
  uint64_t header_limit = 16 << 10;
  /// Time allowed to receive a whole request header once it has started.
  milliseconds header_timeout{10'000};
  /// Time allowed to receive a whole request body.
  milliseconds read_timeout{60'000};
  /// Time allowed to send a whole response.
  milliseconds write_timeout{60'000};
  /// How long a keep-alive connection may sit idle between requests.
  milliseconds idle_timeout{75'000};
  /// Requests served on one connection before it is closed. Requests are
  /// served one at a time per connection, so a client's pipelined requests
  /// wait in the socket (back-pressure) rather than in memory.
  uint32_t max_requests_per_connection = 1000;
  /// Threads running the HTTP event loop.
  uint32_t threads = 2;
  /// Reverse proxies (addresses or networks, e.g. "10.0.0.0/8, ::1") whose
  /// X-Forwarded-For names the client; empty: the connection's address is
  /// the client's.
  std::string trusted_proxies;
  /// The header the trusted proxies write the client's address in:
  /// "x-forwarded-for" or "forwarded" (RFC 7239). Only that one is read, so
  /// a client cannot slip an address in through the other.
  std::string forwarded_header = "x-forwarded-for";
  /// Web origins whose pages may call the API (`/api/`) from the browser
  /// (CORS), e.g. "https://shop.example.com"; "*" for any; empty: none
  /// (same-origin pages only).
  std::string cors_origins;
  /// How long a browser may keep the answer to a CORS preflight.
  milliseconds cors_max_age{600'000};
  /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
  milliseconds shutdown_grace{10'000};
};

/// The database (`database:` in the file).
struct database_settings {
  /// `sqlite:///abs/path/souk.db` or `postgresql://user:pass@host:port/db`.
  /// Empty means SQLite at `<data_dir>/souk.db` (the embedded default).
  std::string url;
  /// Connections kept open (PostgreSQL). SQLite uses the same number.
  uint32_t pool_size = 8;
  /// PostgreSQL: prepared statements kept per connection, so each distinct
  /// statement is parsed and planned once per connection (0: none).
  uint32_t statement_cache = 256;
  /// How long a call waits for a free connection before failing.
  milliseconds acquire_timeout{5'000};
  /// SQLite only: how long a writer waits for the file lock.
  milliseconds busy_timeout{5'000};
  /// PostgreSQL only: how long a statement waits for a lock another session
  /// holds before failing as busy (503 / tried again); 0: forever.
  milliseconds lock_timeout{10'000};
  /// PostgreSQL only: the server ends a session whose transaction stays
  /// idle this long, releasing its locks; 0: never.
  milliseconds idle_in_transaction_timeout{300'000};
  /// Apply pending migrations at start-up (else refuse to start if behind).
  bool migrate_on_start = true;
};

/// Logging (`log:` in the file).
struct log_settings {
  /// trace, debug, info, warn, error, critical or off.
  log::level level = log::level::info;
  /// text (readable) or json (one object per line).
  log::format format = log::format::text;
  /// One line per HTTP request (method, path, status, duration).
  bool access_log = true;
};

/// Restart policy of the actor supervisor (`supervisor:` in the file).
struct supervisor_settings {
  /// Delay before the first restart of a crashed child.
  milliseconds restart_initial{200};
  /// Each further restart waits this factor longer...
  uint32_t restart_factor = 2;
  /// ...up to this delay.
  milliseconds restart_max{30'000};
  /// A child that crashes this many times within `restart_window` is given up
  /// on (logged as critical and reported by /readyz).
  uint32_t max_restarts = 10;
  milliseconds restart_window{60'000};
  /// Restart delays vary randomly by up to this many percent, so children
  /// that crashed together do not restart in lockstep.
  uint32_t jitter_percent = 20;
};

/// Accounts, sessions and abuse limits (`auth:` in the file).
struct auth_settings {
  /// How long a login session lasts.
  milliseconds session_ttl{14ll * 24 * 3600 * 1000};
  /// How long an expired session (its address and user agent) is kept
  /// before soukd's housekeeping deletes it.
  milliseconds sessions_kept_for{30ll * 24 * 3600 * 1000};
  /// Failed logins for an email are forgotten after this long without a
  /// new one (and while it is not blocked).
  milliseconds login_failures_kept_for{24ll * 3600 * 1000};
  /// Shortest password accepted at sign-up.
  uint32_t password_min_length = 10;
  /// Argon2id passes (libsodium opslimit); with `password_hash_memory` it
  /// sets how long a login takes (~0.1 s at the defaults on two cores).
  uint32_t password_hash_ops = 2;
  /// Argon2id memory per hash, in bytes.
  uint64_t password_hash_memory = 64ull << 20;
  /// Threads that hash passwords (also the most hashes running at once).
  uint32_t hash_threads = 2;
  /// Failed logins for one email before it is blocked...
  uint32_t login_failures_before_block = 5;
  /// ...for this long, doubling with every further failure...
  milliseconds login_block_initial{30'000};
  /// ...up to this.
  milliseconds login_block_max{15 * 60'000};
  /// Per client address, on sign-up, login and API-key creation: requests
  /// per minute on average...
  uint32_t rate_limit_per_minute = 30;
  /// ...and at once.
  uint32_t rate_limit_burst = 10;
};

/// Product files (`storage:` in the file). Bytes live under
/// `<data_dir>/files` (local filesystem; S3-compatible stores can follow).
struct storage_settings {
  /// Largest file a creator may upload; larger uploads get 413 and leave
  /// nothing behind.
  uint64_t max_upload = 2ull << 30;
  /// Housekeeping moves a stored file no product file names (an upload
  /// that crashed before recording it) to `files/orphaned/` once it is this
  /// old (and at least twice `http.read_timeout`); an unfinished upload
  /// untouched this long is removed.
  milliseconds orphan_grace{3'600'000};
  /// How long files stay in `files/orphaned/` before they are removed.
  milliseconds orphans_kept_for{7ll * 24 * 3600 * 1000};
};

/// Flow templates (`flows:` in the file).
struct flows_settings {
  /// A directory of extra `*.yaml` flow templates; one named like a shipped
  /// template replaces it for new orders. Empty: the shipped ones only.
  std::string directory;
};

/// The order engine (`orders:` in the file).
struct orders_settings {
  /// An order actor idle this long leaves memory (the database keeps it).
  milliseconds idle_timeout{60'000};
  /// How long a service may take over one step before it counts as failed.
  milliseconds step_timeout{30'000};
  /// How often due timers are looked for...
  milliseconds timer_poll{1'000};
  /// ...and how long a node's claim on one lasts if it dies holding it.
  milliseconds timer_lease{30'000};
  /// How often side effects nobody runs (a crashed node's) are looked for.
  milliseconds sweep_interval{30'000};
  /// Timers or orders taken per database round trip.
  uint32_t batch = 200;
  /// Retry and restart delays vary randomly by up to this many percent.
  uint32_t jitter_percent = 20;
  /// A crashed order actor is restarted after restart_initial, doubling up
  /// to restart_max; more than max_crashes crashes within crash_window and
  /// the order is parked in `needs_attention` for an operator.
  milliseconds restart_initial{500};
  milliseconds restart_max{30'000};
  uint32_t max_crashes = 3;
  milliseconds crash_window{600'000};
  /// Steps of services that only write to the database (wallet, delivery,
  /// email's queue) commit with the transitions around them, one commit
  /// for a run of them; false: each goes through its service actor.
  bool inline_steps = true;
};

/// Payments (`payments:` in the file).
struct payments_settings {
  /// `sandbox` (the built-in Paystack-compatible sandbox gateway, served by
  /// soukd under /sandbox) or `paystack` (Paystack's API).
  std::string gateway = "sandbox";
  /// Paystack's API, or another Paystack-compatible gateway (e.g. a
  /// standalone souk-sandbox).
  std::string paystack_base_url = "https://api.paystack.co";
  /// The secret key (sk_live_... / sk_test_...): authenticates API calls
  /// and signs webhooks. For the sandbox it is the sandbox's key.
  std::string paystack_secret_key;
  /// Longest wait for one gateway call.
  milliseconds timeout{15'000};
  /// Threads for gateway calls (also the most calls at once).
  uint32_t threads = 4;
  /// How often received webhooks and due reconciliation checks are looked
  /// for (a webhook is processed at once anyway).
  milliseconds poll{1'000};
  /// Reconciliation first asks the gateway about a payment this long after
  /// checkout, then at doubling intervals up to reconcile_max_interval,
  /// and gives up (payment failed) after reconcile_for.
  milliseconds reconcile_after{10 * 60'000};
  milliseconds reconcile_max_interval{60 * 60'000};
  milliseconds reconcile_for{72ll * 3600'000};
  /// A webhook that could not be processed (verify failed) is retried after
  /// retry_initial, doubling up to retry_max, for retry_for; then it is
  /// set aside (`ignored`, with the last error) for an operator.
  milliseconds retry_initial{1'000};
  milliseconds retry_max{5 * 60'000};
  milliseconds retry_for{72ll * 3600'000};
  /// How long an Idempotency-Key (checkout, payout) is remembered: a
  /// request repeating it later runs as a new one.
  milliseconds idempotency_keys_kept_for{7ll * 24 * 3600'000};
};

/// The wallet (`wallet:` in the file). docs/wallet.md has a worked example.
struct wallet_settings {
  /// The platform's fee on a sale: this many basis points of the gross
  /// (500 = 5%)...
  uint32_t fee_basis_points = 500;
  /// ...plus a fixed part per currency, in minor units; never more than the
  /// sale.
  int64_t fee_fixed_ngn = 10'000; // NGN 100.00
  int64_t fee_fixed_usd = 30;     // USD 0.30
  /// The smallest payout per currency, in minor units.
  int64_t payout_minimum_ngn = 100'000; // NGN 1,000.00
  int64_t payout_minimum_usd = 1'000;   // USD 10.00
  /// How long a sale's net stays pending before it becomes available.
  milliseconds hold{7ll * 24 * 3600 * 1000};
  /// How often due holds are looked for.
  milliseconds poll{5'000};
};

/// Download links (`delivery:` in the file). docs/delivery.md explains
/// how downloads are counted.
struct delivery_settings {
  /// A grant's lifetime and downloads when its flow step gives none.
  milliseconds expires_in{24ll * 3600'000};
  uint32_t max_downloads = 5;
  /// A request from the client of the last counted download within this
  /// long of it is the same download (a double click)...
  milliseconds repeat_window{60'000};
  /// ...and so is a Range request resuming it within this long.
  milliseconds resume_window{6ll * 3600'000};
  /// Fresh links (or re-sent receipts) per order per hour.
  uint32_t links_per_hour = 5;
  /// A licence-key pool's creator is emailed when a sale leaves this many
  /// keys or fewer, and when it leaves none (once each per restock); 0:
  /// only when none is left.
  uint32_t licence_keys_low = 5;
  /// Non-empty: hand files to the front web server with
  /// `X-Accel-Redirect: <this><storage key>` (e.g. "/protected/" with an
  /// nginx `internal` location aliasing `<data_dir>/files/blobs/`).
  std::string accel_redirect;
};

/// Email (`email:` in the file).
struct email_settings {
  /// `files` (each message written to `<data_dir>/mail/*.eml`; the embedded
  /// default) or `smtp`.
  std::string transport = "files";
  /// The From header; its address is also the envelope sender.
  std::string from = "souk <souk@localhost>";
  /// Shown at the foot of emails.
  std::string shop_name = "souk";
  /// A directory of email templates adding to or replacing the shipped ones
  /// (templates/email/); empty: the shipped ones.
  std::string templates;
  /// smtp://host:port (STARTTLS) or smtps://host:port (TLS).
  std::string smtp_url = "smtp://127.0.0.1:25";
  std::string smtp_username;
  std::string smtp_password;
  /// For smtp://: starttls (required), opportunistic or off.
  std::string smtp_tls = "starttls";
  /// Longest wait for one SMTP conversation.
  milliseconds smtp_timeout{30'000};
  /// A failed send is tried again after retry_initial, doubling up to
  /// retry_max; after retry_for it is given up (logged as an error).
  milliseconds retry_initial{30'000};
  milliseconds retry_max{60 * 60'000};
  milliseconds retry_for{72ll * 3600'000};
  /// How often the outbox is looked at (a new email is sent at once anyway).
  milliseconds poll{5'000};
  /// Messages sent at the same time, each over its own connection (an SMTP
  /// conversation takes tens of milliseconds, a busy server seconds).
  uint32_t senders = 4;
};

/// The web pages (`pages:` in the file).
struct pages_settings {
  /// A directory of page templates (`NAME.html`) and static files
  /// (`static/FILE`) adding to or replacing the shipped ones
  /// (templates/pages/); empty: the shipped ones.
  std::string templates;
};

/// Everything `soukd` reads at start-up.
struct settings {
  /// `HOST:PORT` to listen on; port 0 picks a free port.
  std::string listen = "127.0.0.1:8080";
  /// Where the embedded default keeps its database, files and mail.
  std::string data_dir = "var";
  /// The URL buyers and creators use to reach souk (links in emails and
  /// gateway callbacks). Empty means `http://<listen>`.
  std::string public_url;
  http_settings http;
  database_settings database;
  log_settings log;
  supervisor_settings supervisor;
  auth_settings auth;
  storage_settings storage;
  flows_settings flows;
  orders_settings orders;
  payments_settings payments;
  wallet_settings wallet;
  delivery_settings delivery;
  email_settings email;
  pages_settings pages;

  /// The database URL to use: `database.url`, or SQLite under `data_dir`.
  std::string effective_database_url() const;
};

} // namespace souk::config
