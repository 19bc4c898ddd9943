#pragma once

// Reading SOCI rows the same way in every repository (internal to
// persistence/).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <soci/soci.h>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"

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

/// Claims due rows portably: pick candidates, then take each with
/// an UPDATE guarded by the lease, so two claimers (nodes) never both win a
/// row; on PostgreSQL the loser's UPDATE waits for the winner and then finds
/// the lease taken. `select_due` binds :now1, :now2 and :lim; `take` binds
/// :until, :id (the row's `key`) and :now.
template<class Row, class Read, class Key>
expected<std::vector<Row>>
claim_due(database& db, const std::string& select_due, const std::string& take,
          const std::string& now, const std::string& lease_until, size_t limit,
          Read read, Key key) {
  long long lim = static_cast<long long>(limit);
  std::vector<Row> candidates;
  auto st = db.run([&](soci::session& sql) {
    soci::rowset<soci::row> rows
      = (sql.prepare << select_due, soci::use(now, "now1"),
         soci::use(now, "now2"), soci::use(lim, "lim"));
    for (auto& r : rows)
      candidates.push_back(read(r));
  });
  if (st)
    return st;
  std::vector<Row> out;
  for (auto& c : candidates) {
    bool won = false;
    auto claimed = db.transact([&](soci::session& sql) -> status {
      soci::statement upd
        = (sql.prepare << take, soci::use(lease_until, "until"),
           soci::use(key(c), "id"), soci::use(now, "now"));
      upd.execute(true);
      won = upd.get_affected_rows() == 1;
      return {};
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
    soci::rowset<soci::row> rows = (sql.prepare << sql_text, soci::use(value));
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
    soci::rowset<soci::row> rows = (sql.prepare << sql_text, soci::use(value));
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

/// Stores the answer of an idempotent request inside the caller's
/// transaction (a no-op for an empty key); `errc::conflict` if another
/// request took the key over meanwhile.
status finish_key(soci::session& sql, const idempotency_answer& answer);

} // namespace souk::persistence::detail
