#pragma once

// Prepared statements kept per PostgreSQL connection (internal to
// persistence/).
//
// Without it every statement is parsed, analysed and planned anew: under
// load that was a third of PostgreSQL's CPU time (bench/README.md, third
// profile). A connection's cache prepares each distinct SQL text once
// (PQprepare) and runs it again with new values (PQexecPrepared), so the
// server keeps the parse tree and, after a few runs, a generic plan.

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include <soci/soci.h>

namespace souk::persistence::detail {

/// The prepared statements of one connection, least recently used first out.
/// Used by one thread at a time (the one holding the connection's lease).
class statement_cache {
public:
  statement_cache(soci::session& sql, size_t capacity);
  ~statement_cache();
  statement_cache(const statement_cache&) = delete;
  statement_cache& operator=(const statement_cache&) = delete;

  soci::session& session() noexcept { return sql_; }

  /// The prepared statement for `text` with no values bound, preparing it
  /// on first use; nullptr when it is already running (a statement run
  /// again while its rows are being read), for the caller to run `text`
  /// once instead. Hand it back with `release`.
  soci::statement* acquire(const std::string& text);

  /// Hands back a statement from `acquire`; `stale`: the server no longer
  /// accepts it (the schema changed, it was deallocated), so drop it.
  void release(const std::string& text, bool stale) noexcept;

  /// Forgets every statement without telling the server: the connection
  /// is gone, and the statements with it.
  void forget() noexcept;

  /// Statements held, and how many times one was prepared.
  size_t size() const noexcept { return entries_.size(); }
  size_t prepares() const noexcept { return prepares_; }

private:
  struct entry {
    std::string text;
    std::unique_ptr<soci::statement> st;
    bool busy = false;
  };
  void drop(std::list<entry>::iterator it, bool tell_server) noexcept;

  soci::session& sql_;
  size_t capacity_;
  size_t prepares_ = 0;
  std::list<entry> entries_; // most recently used first
  std::unordered_map<std::string, std::list<entry>::iterator> index_;
};

/// The cache of the connection this thread holds a lease on, if it has one
/// and `sql` is that connection; set by `database::run`.
statement_cache* cache_of(soci::session& sql) noexcept;

/// Makes `cache` the calling thread's current cache until destroyed.
class current_cache_scope {
public:
  explicit current_cache_scope(statement_cache* cache) noexcept;
  ~current_cache_scope();
  current_cache_scope(const current_cache_scope&) = delete;
  current_cache_scope& operator=(const current_cache_scope&) = delete;

private:
  statement_cache* previous_;
};

/// True when the error says the server no longer accepts a prepared
/// statement as it was prepared (SQLSTATE class 26, 0A, 42 or
/// "cached plan must not change result type").
bool statement_is_stale(const soci::soci_error& e) noexcept;

/// The SQLSTATE of a PostgreSQL error ("" for any other error).
std::string sqlstate_of(const soci::soci_error& e);

/// The statement one `rows::exec` or `rows::query` runs: the connection's
/// prepared statement for `text` when it has a cache, otherwise a statement
/// run once. Values are bound by the caller (exchange + define_and_bind)
/// and unbound here when done.
class statement_lease {
public:
  statement_lease(soci::session& sql, const std::string& text);
  ~statement_lease();
  statement_lease(const statement_lease&) = delete;
  statement_lease& operator=(const statement_lease&) = delete;

  soci::statement& operator*() noexcept { return *st_; }
  soci::statement* operator->() noexcept { return st_; }

  /// Runs `st.execute(with_data)`; a statement the server no longer accepts
  /// leaves the cache when this lease ends.
  bool execute(bool with_data);
  /// `st.fetch()`, with the same care.
  bool fetch();

private:
  std::string text_;
  statement_cache* cache_ = nullptr;
  soci::statement* st_ = nullptr;
  std::unique_ptr<soci::statement> once_;
  bool stale_ = false;
};

} // namespace souk::persistence::detail
