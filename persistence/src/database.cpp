#include "souk/persistence/database.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <soci/connection-pool.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "souk/core/log.hpp"
#include "souk/core/url.hpp"

#include "statement_cache.hpp"

namespace souk::persistence {

namespace {

constexpr std::string_view sqlite_prefix = "sqlite://";

void open_sqlite(soci::session& sql, const std::string& path,
                 std::chrono::milliseconds busy) {
  // SOCI reads `timeout` in seconds; the PRAGMA below sets the precise value.
  auto secs = std::max<int64_t>(1, (busy.count() + 999) / 1000);
  sql.open(soci::sqlite3, fmt::format("db=\"{}\" timeout={}", path, secs));
  // Switching a new database to WAL needs it to itself; SQLite answers
  // "database is locked" at once, without waiting, when another process
  // opens it at the same moment (two nodes starting together). The mode
  // is kept in the file: once one of them has set it, this is a no-op.
  auto until = std::chrono::steady_clock::now() + busy;
  for (;;) {
    try {
      sql << "PRAGMA journal_mode=WAL";
      break;
    } catch (const soci::sqlite3_soci_error& e) {
      bool contended = e.result() == SQLITE_BUSY || e.result() == SQLITE_LOCKED;
      if (!contended || std::chrono::steady_clock::now() >= until)
        throw;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
  }
  sql << "PRAGMA synchronous=NORMAL";
  sql << "PRAGMA foreign_keys=ON";
  sql << fmt::format("PRAGMA busy_timeout={}", busy.count());
}

// SOCI 4.0 reads its connect string as keyword=value pairs and mangles URLs,
// so let libpq parse the URL and hand SOCI the keyword form.
std::string pg_conninfo(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? err : "invalid PostgreSQL URL";
    PQfreemem(err);
    throw std::runtime_error(msg);
  }
  std::string out;
  for (auto* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0')
      continue;
    std::string value;
    for (const char* c = o->val; *c; ++c) {
      if (*c == '\'' || *c == '\\')
        value += '\\';
      value += *c;
    }
    out += fmt::format("{}{}='{}'", out.empty() ? "" : " ", o->keyword, value);
  }
  PQconninfoFree(opts);
  return out;
}

// Every PostgreSQL connection's settings, at open and after a reconnect.
void set_up_postgresql(soci::session& sql, const database::options& opts) {
  sql << "SET TIME ZONE 'UTC'";
  sql << fmt::format("SET lock_timeout = {}", opts.lock_timeout.count());
  sql << fmt::format("SET idle_in_transaction_session_timeout = {}",
                     opts.idle_in_transaction_timeout.count());
}

void open_postgresql(soci::session& sql, const database::options& opts) {
  sql.open(soci::postgresql, pg_conninfo(opts.url));
  set_up_postgresql(sql, opts);
}

// What a failed statement means to its caller. A statement given up after
// `lock_timeout` (SQLSTATE 55P03: another session holds what it needs) is
// busy, not broken: HTTP answers 503 with Retry-After, the order engine
// keeps the input and tries again.
error error_of(const soci::soci_error& e, const database::options& opts) {
  auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e);
  if (pg == nullptr || pg->sqlstate() != "55P03")
    return error{errc::database, e.get_error_message()};
  error busy{errc::unavailable,
             fmt::format("the database is busy: a lock this needs was held "
                         "for over {}ms; try again shortly",
                         opts.lock_timeout.count())};
  busy.retry_after = std::chrono::seconds{1};
  return busy;
}

// The transaction `transact` runs on this thread, if any: repository calls
// made inside it (a flow step run in the transaction that records it) join
// it on its connection instead of leasing another. The first failure of
// such a call makes the whole transaction roll back: on PostgreSQL a failed
// statement has aborted it anyway, and a nested `transact` that refused
// cannot take back what it already wrote.
struct ambient_tx {
  const void* owner = nullptr;
  soci::session* sql = nullptr;
  error failure; ///< the first nested call that failed
  std::vector<std::function<void()>> after_commit;
};

thread_local ambient_tx* ambient = nullptr;

// PostgreSQL: a statement failed inside the open transaction and its caller
// caught the error and carried on. Every later statement then fails, and
// COMMIT would quietly roll back. (SQLite undoes only the failed statement.)
bool aborted(soci::session& sql, backend kind) {
  if (kind != backend::postgresql)
    return false;
  auto* be = static_cast<soci::postgresql_session_backend*>(sql.get_backend());
  return be != nullptr && be->conn_ != nullptr
         && PQtransactionStatus(be->conn_) == PQTRANS_INERROR;
}

const error aborted_error{errc::database,
                          "a statement failed inside the transaction"};

// Restores the thread's previous (none) transaction on every way out.
struct ambient_scope {
  explicit ambient_scope(ambient_tx& tx) { ambient = &tx; }
  ~ambient_scope() { ambient = nullptr; }
  ambient_scope(const ambient_scope&) = delete;
  ambient_scope& operator=(const ambient_scope&) = delete;
};

} // namespace

expected<std::vector<std::pair<std::string, std::string>>>
pg_environment(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? err : "invalid PostgreSQL URL";
    PQfreemem(err);
    return error{errc::config, fmt::format("{}: {}", redact_url(url), msg)};
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (auto* o = opts; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0' && o->envvar != nullptr)
      out.emplace_back(o->envvar, o->val);
  PQconninfoFree(opts);
  return out;
}

std::string_view to_string(backend x) noexcept {
  return x == backend::sqlite ? "sqlite" : "postgresql";
}

expected<backend> backend_of(const std::string& url) {
  if (url.starts_with(sqlite_prefix))
    return backend::sqlite;
  if (url.starts_with("postgresql://") || url.starts_with("postgres://"))
    return backend::postgresql;
  return error{errc::config,
               fmt::format("unsupported database URL '{}': expected "
                           "sqlite:///path or postgresql://...",
                           redact_url(url))};
}

struct database::impl {
  backend kind;
  std::string display_url;
  options opts;
  soci::connection_pool pool;
  boost::asio::thread_pool threads;
  std::atomic<uint32_t> in_use{0};
  std::atomic<uint64_t> waits{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<bool> stopped{false};
  // SQLite allows one writer per file. Writers of this process queue here
  // instead of spinning in SQLite's busy handler (which sleeps and retries):
  // under load that sleeping, not the writes, was the cost. Other processes
  // (soukctl) still meet busy_timeout.
  std::mutex sqlite_writer;
  // PostgreSQL: each connection's prepared statements, by pool position.
  // Declared after `pool`, so they go before their connections close.
  std::vector<std::unique_ptr<detail::statement_cache>> caches;

  impl(backend k, const options& o)
    : kind(k), display_url(redact_url(o.url)), opts(o), pool(o.pool_size),
      threads(o.pool_size) {}
};

database::database(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {}

database::~database() {
  shutdown();
}

expected<std::shared_ptr<database>> database::open(const options& opts) {
  auto kind = backend_of(opts.url);
  if (!kind)
    return kind.err();
  if (opts.pool_size == 0)
    return error{errc::config, "database.pool_size must be at least 1"};
  auto ptr = std::make_unique<impl>(*kind, opts);
  std::string path;
  if (*kind == backend::sqlite) {
    path = opts.url.substr(sqlite_prefix.size());
    if (path.empty())
      return error{errc::config, "sqlite:// URL without a file path"};
    std::error_code ec;
    auto dir = std::filesystem::path{path}.parent_path();
    if (!dir.empty())
      std::filesystem::create_directories(dir, ec);
    if (ec)
      return error{errc::unavailable, fmt::format("cannot create {}: {}",
                                                  dir.string(), ec.message())};
  }
  try {
    for (size_t i = 0; i < opts.pool_size; ++i) {
      auto& sql = ptr->pool.at(i);
      if (*kind == backend::sqlite)
        open_sqlite(sql, path, opts.busy_timeout);
      else
        open_postgresql(sql, opts);
      ptr->caches.push_back(
        *kind == backend::postgresql
          ? std::make_unique<detail::statement_cache>(sql, opts.statement_cache)
          : nullptr);
    }
  } catch (const std::exception& e) {
    return error{errc::unavailable, fmt::format("cannot open database {}: {}",
                                                ptr->display_url, e.what())};
  }
  return std::shared_ptr<database>(new database(std::move(ptr)));
}

backend database::kind() const noexcept {
  return impl_->kind;
}

const std::string& database::display_url() const noexcept {
  return impl_->display_url;
}

bool database::in_transaction() const noexcept {
  return ambient != nullptr && ambient->owner == impl_.get();
}

status database::run(const std::function<void(soci::session&)>& fn) {
  if (in_transaction()) {
    // Joins the transaction this thread is in (see ambient_tx).
    status result;
    try {
      fn(*ambient->sql);
    } catch (const soci::soci_error& e) {
      result = error_of(e, impl_->opts);
    } catch (const std::exception& e) {
      result = error{errc::internal, e.what()};
    }
    if (!result && aborted(*ambient->sql, impl_->kind))
      result = aborted_error;
    if (result && !ambient->failure)
      ambient->failure = result;
    return result;
  }
  size_t pos = 0;
  if (!impl_->pool.try_lease(pos, 0)) {
    ++impl_->waits;
    auto ms = static_cast<int>(impl_->opts.acquire_timeout.count());
    if (!impl_->pool.try_lease(pos, ms)) {
      ++impl_->timeouts;
      return error{errc::unavailable,
                   fmt::format("no free database connection within {}ms", ms)};
    }
  }
  ++impl_->in_use;
  auto& sql = impl_->pool.at(pos);
  auto* cache = impl_->caches[pos].get();
  status result;
  try {
    detail::current_cache_scope scope{cache};
    fn(sql);
  } catch (const soci::soci_error& e) {
    result = error_of(e, impl_->opts);
  } catch (const std::exception& e) {
    result = error{errc::internal, e.what()};
  }
  if (result && !sql.is_connected()) {
    // The server went away (restart, network): not a fault of the request,
    // which may be tried again in a moment (HTTP: 503 with Retry-After).
    // Reconnect for the next lease; its prepared statements went with it.
    log::warn("database connection lost: {}", result.detail);
    result = error{errc::unavailable,
                   "the database is unavailable; try again shortly"};
    result.retry_after = std::chrono::seconds{1};
    if (cache != nullptr)
      cache->forget();
    try {
      sql.reconnect();
      if (impl_->kind == backend::postgresql)
        set_up_postgresql(sql, impl_->opts);
    } catch (const std::exception& e) {
      log::warn("database reconnect failed: {}", e.what());
    }
  }
  --impl_->in_use;
  impl_->pool.give_back(pos);
  return result;
}

status database::transact(const std::function<status(soci::session&)>& fn) {
  if (in_transaction()) {
    status outcome;
    auto st = run([&](soci::session& sql) { outcome = fn(sql); });
    if (st)
      return st;
    if (outcome && !ambient->failure)
      ambient->failure = outcome;
    return outcome;
  }
  std::unique_lock writer{impl_->sqlite_writer, std::defer_lock};
  if (impl_->kind == backend::sqlite)
    writer.lock();
  status outcome;
  ambient_tx tx;
  tx.owner = impl_.get();
  auto st = run([&](soci::session& sql) {
    sql << (impl_->kind == backend::sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
    try {
      tx.sql = &sql;
      ambient_scope scope{tx};
      outcome = fn(sql);
      if (!outcome && tx.failure)
        outcome = tx.failure;
      if (!outcome && aborted(sql, impl_->kind))
        outcome = aborted_error;
    } catch (...) {
      try {
        sql << "ROLLBACK";
      } catch (...) {
        // the connection is gone; the server rolls back on its own
      }
      throw;
    }
    sql << (outcome ? "ROLLBACK" : "COMMIT");
  });
  if (st)
    return st;
  if (!outcome) {
    writer = {};
    for (auto& f : tx.after_commit)
      f();
  }
  return outcome;
}

void database::after_commit(std::function<void()> fn) {
  if (in_transaction())
    ambient->after_commit.push_back(std::move(fn));
  else
    fn();
}

status database::write(const std::function<void(soci::session&)>& fn) {
  if (in_transaction())
    return run(fn);
  std::unique_lock writer{impl_->sqlite_writer, std::defer_lock};
  if (impl_->kind == backend::sqlite)
    writer.lock();
  return run(fn);
}

void database::post(std::function<void()> job) {
  boost::asio::post(impl_->threads, std::move(job));
}

status database::ping() {
  return run([](soci::session& sql) {
    int one = 0;
    sql << "SELECT 1", soci::into(one);
  });
}

uint32_t database::in_use() const noexcept {
  return impl_->in_use.load();
}

uint32_t database::pool_size() const noexcept {
  return impl_->opts.pool_size;
}

uint64_t database::lease_waits() const noexcept {
  return impl_->waits.load();
}

uint64_t database::lease_timeouts() const noexcept {
  return impl_->timeouts.load();
}

void database::shutdown() {
  if (!impl_ || impl_->stopped.exchange(true))
    return;
  impl_->threads.join();
}

} // namespace souk::persistence
