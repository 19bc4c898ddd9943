#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/core/time.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

// A creator's sales and earnings over time, read from the ledger: the
// dashboard's series (docs/wallet.md, "Dashboard").
namespace souk::wallet {

/// How a sales series groups days.
enum class bucket {
  day,   ///< one point per day
  week,  ///< ISO weeks, Monday to Sunday, each labelled by its Monday
  month, ///< calendar months, each labelled by its first day
};

/// "day", "week" or "month".
std::string_view to_string(bucket b) noexcept;

/// The first day of the bucket that `d` falls in.
day_point bucket_start(day_point d, bucket b) noexcept;

/// The days a series covers, both included, and how it groups them.
struct sales_range {
  day_point from;
  day_point to;
  bucket by = bucket::day;
};

/// The longest range, in days, a series may cover: 366 by day, 1827 (five
/// years) by week or month.
int64_t max_days(bucket b) noexcept;

/// The range a request asks for through its query parameters `from`, `to`
/// (dates YYYY-MM-DD, UTC) and `bucket` (nullopt when absent). Defaults:
/// `to` is `today`, `from` is 29 days before `to` (thirty days in all),
/// `bucket` is day. Fails with `errc::invalid_field` naming the parameter:
/// a malformed date, an unknown bucket, `from` after `to`, or a range
/// longer than `max_days` (field `from`).
expected<sales_range> parse_sales_range(std::optional<std::string_view> from,
                                        std::optional<std::string_view> to,
                                        std::optional<std::string_view> by,
                                        day_point today);

/// What a day or a bucket of sales amounts to, in minor units.
struct sales_figures {
  int64_t sales = 0;   ///< how many sales
  int64_t gross = 0;   ///< what buyers paid for them: net + fees
  int64_t fees = 0;    ///< the platform's share of them
  int64_t net = 0;     ///< the creator's share of them
  int64_t refunds = 0; ///< the creator's share given back by refunds then
                       ///< (of sales of any day), as a positive number

  /// What the creator earned: net − refunds (below zero when refunds
  /// outweigh sales).
  int64_t earnings() const noexcept { return net - refunds; }

  /// Adds `x`, figure by figure.
  sales_figures& operator+=(const sales_figures& x) noexcept;
};

/// One day's figures in one currency.
struct day_sales {
  day_point day;
  std::string currency;
  sales_figures figures;
};

/// One bucket of a series.
struct sales_point {
  day_point start; ///< the bucket's first day (see `bucket`)
  sales_figures figures;
};

/// A creator's sales in one currency over a range.
struct sales_series {
  std::string currency;
  std::vector<sales_point> points; ///< every bucket of the range, in order
  sales_figures totals;            ///< the points added up
};

/// Folds `days` into the buckets of `range`: one series per currency named
/// in `currencies` or `days`, ordered by currency, each with every bucket
/// from the one holding `range.from` to the one holding `range.to` (zeros
/// where nothing happened). The first and last buckets of a week or month
/// series may be partial: only days of the range count. Days outside the
/// range are ignored.
std::vector<sales_series> fold_sales(const sales_range& range,
                                     const std::vector<std::string>& currencies,
                                     const std::vector<day_sales>& days);

/// The sales series of creator `creator_id` over `range`, from the ledger:
/// one per currency the creator has a ledger account in, whether or not
/// anything happened in the range (so a quiet month reads as zeros, not as
/// nothing). Blocks on the database.
expected<std::vector<sales_series>> sales_of(persistence::database& db,
                                             const std::string& creator_id,
                                             const sales_range& range);

} // namespace souk::wallet
