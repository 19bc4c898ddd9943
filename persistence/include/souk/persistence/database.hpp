#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "souk/core/error.hpp"

namespace soci {
class session;
} // namespace soci

namespace souk::persistence {

/// Which SQL dialect a database speaks.
enum class backend { sqlite, postgresql };

/// "sqlite" or "postgresql".
std::string_view to_string(backend x) noexcept;

/// libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
/// PGSSLMODE, ...) for a postgresql:// URL: how to point a libpq program
/// (pg_dump) at the database without its password on a command line.
/// `errc::config` if libpq cannot parse the URL.
expected<std::vector<std::pair<std::string, std::string>>>
pg_environment(const std::string& url);

/// A pool of SOCI connections to one database, plus the threads that run
/// blocking database work. Only code in persistence/ touches `soci::session`;
/// everyone else calls repositories, and calls them through `post` when on a
/// thread that must not block (CAF scheduler threads, the HTTP event loop).
///
/// Thread-safe. Each `run`/`transact` leases one connection for its duration;
/// a job must not lease a second one (that can deadlock a full pool).
class database : public std::enable_shared_from_this<database> {
public:
  struct options {
    /// `sqlite:///path/souk.db` or a libpq URL `postgresql://...`.
    std::string url;
    /// Connections kept open; also the number of database threads.
    uint32_t pool_size = 8;
    /// How long `run` waits for a free connection before failing.
    std::chrono::milliseconds acquire_timeout{5000};
    /// PostgreSQL only: prepared statements kept per connection (0: none;
    /// every statement is then parsed and planned anew).
    uint32_t statement_cache = 256;
    /// SQLite only: how long a writer waits for the file lock.
    std::chrono::milliseconds busy_timeout{5000};
    /// PostgreSQL only: how long a statement waits for a lock another
    /// session holds (a row, a table) before it fails as `unavailable`
    /// (retry after a second) instead of holding its thread (0: forever).
    /// Migrations wait as long as they must.
    std::chrono::milliseconds lock_timeout{0};
    /// PostgreSQL only: the server ends a session whose transaction stays
    /// idle this long, so a stuck process cannot hold its locks forever
    /// (0: never).
    std::chrono::milliseconds idle_in_transaction_timeout{0};
  };

  /// Opens all connections. SQLite: creates the file's directory and switches
  /// the file to WAL mode. Fails with `errc::unavailable` if the database
  /// cannot be reached.
  static expected<std::shared_ptr<database>> open(const options& opts);

  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  backend kind() const noexcept;

  /// The URL with any password masked, for logs.
  const std::string& display_url() const noexcept;

  /// Runs `fn` with a leased connection on the calling thread. SOCI
  /// exceptions become `errc::database` errors, or `errc::unavailable`
  /// (retry after a second) when the connection was lost; a broken
  /// connection is re-opened for the next caller. For reads: every write
  /// goes through `transact` or `write`, or on SQLite it meets another
  /// writer in SQLite's busy handler, which sleeps (up to 100 ms a turn)
  /// instead of queueing.
  status run(const std::function<void(soci::session&)>& fn);

  /// Runs `fn` in a write transaction (SQLite: `BEGIN IMMEDIATE`, so writers
  /// queue instead of dead-locking). Commits if `fn` returns no error and
  /// rolls back otherwise, or if it throws.
  ///
  /// While `fn` runs, `run`, `write` and `transact` called on this thread
  /// (by repositories `fn` calls) join this transaction on its connection:
  /// a flow step's writes commit with the transition that records it. If
  /// any of them fails, the whole transaction rolls back and `transact`
  /// returns that first failure, even if `fn` carried on. So does a
  /// PostgreSQL statement whose error the caller caught: PostgreSQL has
  /// aborted the transaction, and its COMMIT would quietly roll back.
  status transact(const std::function<status(soci::session&)>& fn);

  /// Runs `fn` once the transaction this thread is in commits (not at all
  /// if it rolls back), after its connection is given back; at once when
  /// the thread is in none. For telling other threads about new rows.
  void after_commit(std::function<void()> fn);

  /// Whether this thread runs inside a `transact` of this database.
  bool in_transaction() const noexcept;

  /// Runs `fn`, which writes with exactly one statement: a statement is
  /// atomic on its own, so on PostgreSQL it runs without BEGIN and COMMIT
  /// (two round trips fewer than `transact`); on SQLite it queues behind
  /// this process's other writers as `transact` does. Use `transact` for
  /// anything that runs two statements or more.
  status write(const std::function<void(soci::session&)>& fn);

  /// Queues `job` on the database threads and returns at once.
  void post(std::function<void()> job);

  /// A trivial query: is the database reachable?
  status ping();

  /// Connections currently leased.
  uint32_t in_use() const noexcept;

  /// Connections in the pool.
  uint32_t pool_size() const noexcept;

  /// How many leases had to wait, and how many timed out, since start.
  uint64_t lease_waits() const noexcept;
  uint64_t lease_timeouts() const noexcept;

  /// Stops the database threads after the queued jobs finish. Idempotent.
  void shutdown();

private:
  struct impl;
  explicit database(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

/// Parses a database URL into its backend, or an `errc::config` error.
expected<backend> backend_of(const std::string& url);

} // namespace souk::persistence
