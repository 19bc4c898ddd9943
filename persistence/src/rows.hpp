#pragma once

// Reading SOCI rows the same way in every repository (internal to
// persistence/).

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <soci/soci.h>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"

#include "statement_cache.hpp"

namespace souk::persistence::rows {

/// An integer column. SOCI types a column by its declared type, which differs
/// between the backends (SQLite INTEGER vs PostgreSQL int4/int8, count(*)):
/// accept any integer kind, and text for a computed column SQLite could not
/// type.
inline int64_t get_int(const soci::row& r, size_t i) {
  switch (r.get_properties(i).get_data_type()) {
  case soci::dt_integer:
    return r.get<int>(i);
  case soci::dt_long_long:
    return r.get<long long>(i);
  case soci::dt_unsigned_long_long:
    return static_cast<int64_t>(r.get<unsigned long long>(i));
  default:
    return std::stoll(r.get<std::string>(i));
  }
}

/// NULL for an empty string (optional text columns).
inline soci::indicator null_if_empty(const std::string& x) {
  return x.empty() ? soci::i_null : soci::i_ok;
}

/// A nullable text column; NULL reads as "".
inline std::string opt_string(const soci::row& r, size_t i) {
  return r.get_indicator(i) == soci::i_ok ? r.get<std::string>(i)
                                          : std::string{};
}

/// Statements run through the connection's prepared-statement cache
/// (statement_cache.hpp): on PostgreSQL each distinct SQL text is prepared
/// once per connection and then only bound and executed, so the server
/// parses and plans it once; SQLite runs it as before. Elements
/// (`soci::use`, `soci::into`) bind by reference, as with SOCI, for the
/// duration of the call. `exec` runs a statement and returns the rows it
/// changed.
template<class... Elements>
long long exec(soci::session& sql, const std::string& text,
               Elements&&... elements) {
  detail::statement_lease st{sql, text};
  (st->exchange(std::forward<Elements>(elements)), ...);
  st->define_and_bind();
  st.execute(true);
  return st->get_affected_rows();
}

/// Runs a query that reads at most one row into its `soci::into` elements
/// (see `exec`); true when there was a row.
template<class... Elements>
bool read_one(soci::session& sql, const std::string& text,
              Elements&&... elements) {
  detail::statement_lease st{sql, text};
  (st->exchange(std::forward<Elements>(elements)), ...);
  st->define_and_bind();
  return st.execute(true);
}

/// The rows of a query (see `exec`), read as with a rowset:
/// `for (auto& r : rows::query{sql, "SELECT ...", soci::use(id)})`.
class query {
public:
  template<class... Uses>
  query(soci::session& sql, const std::string& text, Uses&&... uses)
    : st_(sql, text) {
    (st_->exchange(std::forward<Uses>(uses)), ...);
    st_->define_and_bind();
    st_->exchange_for_rowset(soci::into(row_));
    st_.execute(false);
  }
  /// The same for a list of values of varying length, bound by name as
  /// `:p0`, `:p1`, ... (e.g. `IN (:p0, :p1)`); each length is its own text.
  query(soci::session& sql, const std::string& text,
        const std::vector<std::string>& values)
    : st_(sql, text) {
    for (size_t i = 0; i < values.size(); ++i)
      st_->exchange(soci::use(values[i], "p" + std::to_string(i)));
    st_->define_and_bind();
    st_->exchange_for_rowset(soci::into(row_));
    st_.execute(false);
  }
  /// The same for a statement assembled with a `builder`.
  query(soci::session& sql, class builder& b);
  query(const query&) = delete;
  query& operator=(const query&) = delete;

  struct sentinel {};
  class iterator {
  public:
    explicit iterator(query* q) : q_(q) {}
    const soci::row& operator*() const { return q_->row_; }
    iterator& operator++() {
      q_->more_ = q_->st_.fetch();
      return *this;
    }
    bool operator!=(sentinel) const { return q_->more_; }
    bool operator==(sentinel) const { return !q_->more_; }

  private:
    query* q_;
  };

  iterator begin() {
    more_ = st_.fetch();
    return iterator{this};
  }
  sentinel end() const { return {}; }

private:
  soci::row row_; // before st_: bound into it, and outlives its binding
  detail::statement_lease st_;
  bool more_ = false;
};

/// A statement assembled piece by piece together with its values, for SQL
/// whose shape varies (a row or a clause per item): `sql` appends text,
/// `text`/`integer` append a placeholder and keep its value. SOCI binds
/// PostgreSQL placeholders by position, so `bind` hands the values over in
/// the order their placeholders were written. Equal shapes give equal
/// texts (placeholders are numbered), so the statement cache reuses them.
class builder {
public:
  builder& sql(std::string_view s) {
    text_ += s;
    return *this;
  }
  /// A text value; NULL when `null_when_empty` and it is empty.
  builder& text(const std::string& v, bool null_when_empty = false) {
    strings_.push_back(v);
    indicators_.push_back(null_when_empty && v.empty() ? soci::i_null
                                                       : soci::i_ok);
    order_.push_back({false, strings_.size() - 1});
    return placeholder();
  }
  builder& integer(long long v) {
    integers_.push_back(v);
    order_.push_back({true, integers_.size() - 1});
    return placeholder();
  }
  const std::string& str() const noexcept { return text_; }
  void bind(soci::statement& st) {
    for (auto& [is_int, i] : order_)
      if (is_int)
        st.exchange(soci::use(integers_[i]));
      else
        st.exchange(soci::use(strings_[i], indicators_[i]));
  }

private:
  builder& placeholder() {
    text_ += ":p" + std::to_string(order_.size());
    return *this;
  }
  std::string text_;
  // deques: the values stay where they are while more are added
  std::deque<std::string> strings_;
  std::deque<soci::indicator> indicators_;
  std::deque<long long> integers_;
  std::vector<std::pair<bool, size_t>> order_;
};

inline query::query(soci::session& sql, builder& b) : st_(sql, b.str()) {
  b.bind(*st_);
  st_->define_and_bind();
  st_->exchange_for_rowset(soci::into(row_));
  st_.execute(false);
}

/// Claims due rows portably: pick candidates, then take each with
/// an UPDATE guarded by the lease, so two claimers (nodes) never both win a
/// row; on PostgreSQL the loser's UPDATE waits for the winner and then finds
/// the lease taken. `select_due` binds :now1, :now2 and :lim; `take` binds
/// :until, :id (the row's `key`) and :now.
///
/// On PostgreSQL, `at_once` (when given) does both in one statement and one
/// round trip: "UPDATE ... SET claimed_until = :until WHERE id IN (SELECT id
/// ... FOR UPDATE SKIP LOCKED) RETURNING <the columns `read` reads>",
/// binding :until, :now1, :now2 and :lim in that order. Rows locked by
/// another claimer are skipped, and a row claimed meanwhile fails the
/// re-checked condition, so two claimers still never win one row. Its rows
/// come in no particular order, with their new lease.
template<class Row, class Read, class Key>
expected<std::vector<Row>>
claim_due(database& db, const std::string& select_due, const std::string& take,
          const std::string& now, const std::string& lease_until, size_t limit,
          Read read, Key key, const std::string& at_once = {}) {
  long long lim = static_cast<long long>(limit);
  if (!at_once.empty() && db.kind() == backend::postgresql) {
    std::vector<Row> out;
    auto st = db.write([&](soci::session& sql) {
      rows::query rows{sql,
                       at_once,
                       soci::use(lease_until, "until"),
                       soci::use(now, "now1"),
                       soci::use(now, "now2"),
                       soci::use(lim, "lim")};
      for (auto& r : rows)
        out.push_back(read(r));
    });
    if (st)
      return st;
    return out;
  }
  std::vector<Row> candidates;
  auto st = db.run([&](soci::session& sql) {
    rows::query rows{sql, select_due, soci::use(now, "now1"),
                     soci::use(now, "now2"), soci::use(lim, "lim")};
    for (auto& r : rows)
      candidates.push_back(read(r));
  });
  if (st)
    return st;
  std::vector<Row> out;
  for (auto& c : candidates) {
    bool won = false;
    auto claimed = db.write([&](soci::session& sql) {
      won = exec(sql, take, soci::use(lease_until, "until"),
                 soci::use(key(c), "id"), soci::use(now, "now"))
            == 1;
    });
    if (claimed)
      return claimed;
    if (won)
      out.push_back(std::move(c));
  }
  return out;
}

/// The first row `sql_text` (binding `value`) gives, read by `read`.
template<class Row, class Read>
expected<std::optional<Row>> find_one(database& db, const std::string& sql_text,
                                      const std::string& value, Read read) {
  std::optional<Row> out;
  auto st = db.run([&](soci::session& sql) {
    rows::query rows{sql, sql_text, soci::use(value)};
    for (auto& r : rows) {
      out = read(r);
      break;
    }
  });
  if (st)
    return st;
  return out;
}

/// Every row `sql_text` (binding `value`) gives, read by `read`.
template<class Row, class Read>
expected<std::vector<Row>> find_all(database& db, const std::string& sql_text,
                                    const std::string& value, Read read) {
  std::vector<Row> out;
  auto st = db.run([&](soci::session& sql) {
    rows::query rows{sql, sql_text, soci::use(value)};
    for (auto& r : rows)
      out.push_back(read(r));
  });
  if (st)
    return st;
  return out;
}

} // namespace souk::persistence::rows

namespace souk::persistence::detail {

/// Inserts a new order with its first event, timers and outbox rows inside
/// the caller's transaction (`order_repository::create` and checkouts).
void insert_new_order(soci::session& sql, const order_row& order,
                      const event_row& first_event,
                      const std::vector<timer_row>& arm_timers,
                      const std::vector<outbox_row>& enqueue);

/// What `order_repository::visibility` reads (from `visibility_joins`,
/// which names the order `o`), and its reader from column `at` on.
extern const char* const visibility_columns;
extern const char* const visibility_joins;
order_visibility read_visibility(const soci::row& r, size_t at);

/// PostgreSQL: the order's columns (of `o`) and its events as one JSON
/// column, and their reader (from column 0), as `load_view` returns them.
const std::string& order_view_columns();
order_snapshot read_order_view(const soci::row& r);

/// PostgreSQL: `insert_new_order` as the first WITH clauses of one
/// statement ("WITH o AS (...), e AS (...), t0 ..., n0 ..."), for callers
/// that add their own rows and end the statement (`finish_key_clause` or
/// " SELECT 1").
void new_order_clauses(rows::builder& b, const order_row& order,
                       const event_row& first_event,
                       const std::vector<timer_row>& arm_timers,
                       const std::vector<outbox_row>& enqueue);

/// PostgreSQL: `finish_key` as the last WITH clause and the statement's
/// closing SELECT, which divides by zero (22012) when the key was taken over,
/// so that nothing of the statement is written.
void finish_key_clause(rows::builder& b, const idempotency_answer& answer);

/// Runs `b`, one statement ending in a SELECT of one whole number, as one
/// write and returns that number. A division by zero (22012: a guard of the
/// statement refused, so nothing was written) becomes `errc::conflict` with
/// `refused`.
expected<int64_t> write_at_once(database& db, rows::builder& b,
                                const std::string& refused);

/// Stores the answer of an idempotent request inside the caller's
/// transaction (a no-op for an empty key); `errc::conflict` if another
/// request took the key over meanwhile.
status finish_key(soci::session& sql, const idempotency_answer& answer);

} // namespace souk::persistence::detail
