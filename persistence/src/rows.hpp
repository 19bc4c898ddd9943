#pragma once

// Reading SOCI rows the same way in every repository (internal to
// persistence/).

#include <cstdint>
#include <string>
#include <vector>

#include <soci/soci.h>

#include "souk/persistence/orders.hpp"

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

/// A nullable text column; NULL reads as "".
inline std::string opt_string(const soci::row& r, size_t i) {
  return r.get_indicator(i) == soci::i_ok ? r.get<std::string>(i)
                                          : std::string{};
}

} // namespace souk::persistence::rows

namespace souk::persistence::detail {

/// Inserts a new order with its first event, timers and outbox rows inside
/// the caller's transaction (`order_repository::create` and checkouts).
void insert_new_order(soci::session& sql, const order_row& order,
                      const event_row& first_event,
                      const std::vector<timer_row>& arm_timers,
                      const std::vector<outbox_row>& enqueue);

} // namespace souk::persistence::detail
