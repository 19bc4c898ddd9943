#include "statement_cache.hpp"

#include <exception>

#include <soci/postgresql/soci-postgresql.h>

namespace souk::persistence::detail {

namespace {

thread_local statement_cache* current = nullptr;

} // namespace

statement_cache::statement_cache(soci::session& sql, size_t capacity)
  : sql_(sql), capacity_(capacity) {}

statement_cache::~statement_cache() {
  forget();
}

soci::statement* statement_cache::acquire(const std::string& text) {
  if (capacity_ == 0)
    return nullptr;
  if (auto found = index_.find(text); found != index_.end()) {
    auto it = found->second;
    if (it->busy)
      return nullptr;
    entries_.splice(entries_.begin(), entries_, it);
    it->busy = true;
    return it->st.get();
  }
  auto st = std::make_unique<soci::statement>(sql_);
  st->alloc();
  st->prepare(text, soci::details::st_repeatable_query); // throws: not kept
  ++prepares_;
  while (entries_.size() >= capacity_) {
    // The least recently used statement that is not running.
    auto victim = entries_.end();
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      if (!it->busy) {
        victim = std::prev(it.base());
        break;
      }
    }
    if (victim == entries_.end())
      break;
    drop(victim, true);
  }
  entries_.push_front(entry{text, std::move(st), true});
  index_.emplace(text, entries_.begin());
  return entries_.front().st.get();
}

void statement_cache::release(const std::string& text, bool stale) noexcept {
  auto found = index_.find(text);
  if (found == index_.end())
    return;
  auto it = found->second;
  it->busy = false;
  try {
    it->st->bind_clean_up(); // no references to the caller's values remain
    // Nor the rows of its last run: a cached statement would otherwise hold
    // its last result (a whole page of orders, say) until it runs again.
    auto* be
      = static_cast<soci::postgresql_statement_backend*>(it->st->get_backend());
    be->result_.reset();
    be->justDescribed_ = false;
  } catch (...) {
    stale = true;
  }
  if (stale)
    drop(it, true);
}

void statement_cache::forget() noexcept {
  while (!entries_.empty())
    drop(entries_.begin(), false);
}

void statement_cache::drop(std::list<entry>::iterator it,
                           bool tell_server) noexcept {
  if (!tell_server) {
    // SOCI sends DEALLOCATE when a prepared statement is destroyed; over a
    // lost connection that would only fail (or wait), so forget the name.
    // (Only PostgreSQL connections have a cache.)
    static_cast<soci::postgresql_statement_backend*>(it->st->get_backend())
      ->statementName_.clear();
  }
  index_.erase(it->text);
  entries_.erase(it); // destroys the statement (DEALLOCATE; errors ignored)
}

statement_cache* cache_of(soci::session& sql) noexcept {
  return current != nullptr && &current->session() == &sql ? current : nullptr;
}

current_cache_scope::current_cache_scope(statement_cache* cache) noexcept
  : previous_(current) {
  current = cache;
}

current_cache_scope::~current_cache_scope() {
  current = previous_;
}

bool statement_is_stale(const soci::soci_error& e) noexcept {
  auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e);
  if (pg == nullptr)
    return false;
  std::string state = pg->sqlstate();
  return state.starts_with("26") || state.starts_with("0A")
         || state.starts_with("42");
}

std::string sqlstate_of(const soci::soci_error& e) {
  auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e);
  return pg == nullptr ? std::string{} : pg->sqlstate();
}

statement_lease::statement_lease(soci::session& sql, const std::string& text)
  : text_(text), cache_(cache_of(sql)) {
  if (cache_ != nullptr)
    st_ = cache_->acquire(text);
  if (st_ == nullptr) {
    cache_ = nullptr;
    once_ = std::make_unique<soci::statement>(sql);
    once_->alloc();
    once_->prepare(text, soci::details::st_one_time_query);
    st_ = once_.get();
  }
}

statement_lease::~statement_lease() {
  if (cache_ != nullptr)
    cache_->release(text_, stale_);
}

bool statement_lease::execute(bool with_data) {
  try {
    return st_->execute(with_data);
  } catch (const soci::soci_error& e) {
    stale_ = statement_is_stale(e);
    throw;
  }
}

bool statement_lease::fetch() {
  try {
    return st_->fetch();
  } catch (const soci::soci_error& e) {
    stale_ = statement_is_stale(e);
    throw;
  }
}

} // namespace souk::persistence::detail
