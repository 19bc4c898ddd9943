// The dashboard's sales series: the ledger sums each day (one query), this
// file checks the requested range and folds days into weeks or months,
// filling empty buckets with zeros.

#include "souk/wallet/sales.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include <fmt/format.h>

#include "souk/persistence/database.hpp"
#include "souk/persistence/ledger.hpp"

namespace souk::wallet {

namespace {

using std::chrono::days;

// The first day of the bucket after the one starting at `start`.
day_point next_start(day_point start, bucket b) noexcept {
  switch (b) {
  case bucket::day:
    return start + days{1};
  case bucket::week:
    return start + days{7};
  case bucket::month:
    break;
  }
  std::chrono::year_month_day ymd{start};
  return std::chrono::sys_days{ymd + std::chrono::months{1}};
}

expected<day_point> day_param(std::string_view name, std::string_view text) {
  auto d = parse_iso_day(text);
  if (!d)
    return error{
      errc::invalid_field,
      fmt::format("{} must be a date YYYY-MM-DD (UTC), not '{}'", name, text),
      std::string{name}};
  return *d;
}

} // namespace

std::string_view to_string(bucket b) noexcept {
  switch (b) {
  case bucket::day:
    return "day";
  case bucket::week:
    return "week";
  case bucket::month:
    return "month";
  }
  return "?";
}

day_point bucket_start(day_point d, bucket b) noexcept {
  switch (b) {
  case bucket::day:
    return d;
  case bucket::week:
    // ISO weekdays: Monday is 1, Sunday 7.
    return d - days{std::chrono::weekday{d}.iso_encoding() - 1};
  case bucket::month:
    break;
  }
  std::chrono::year_month_day ymd{d};
  return std::chrono::sys_days{ymd.year() / ymd.month() / 1};
}

int64_t max_days(bucket b) noexcept {
  return b == bucket::day ? 366 : 1827;
}

expected<sales_range> parse_sales_range(std::optional<std::string_view> from,
                                        std::optional<std::string_view> to,
                                        std::optional<std::string_view> by,
                                        day_point today) {
  sales_range r;
  if (by) {
    if (*by == "day")
      r.by = bucket::day;
    else if (*by == "week")
      r.by = bucket::week;
    else if (*by == "month")
      r.by = bucket::month;
    else
      return error{
        errc::invalid_field,
        fmt::format("bucket must be day, week or month, not '{}'", *by),
        "bucket"};
  }
  r.to = today;
  if (to) {
    auto d = day_param("to", *to);
    if (!d)
      return d.err();
    r.to = *d;
  }
  r.from = r.to - days{29};
  if (from) {
    auto d = day_param("from", *from);
    if (!d)
      return d.err();
    r.from = *d;
  }
  if (r.from > r.to)
    return error{errc::invalid_field,
                 fmt::format("from ({}) must not be after to ({})",
                             to_iso_day(r.from), to_iso_day(r.to)),
                 "from"};
  auto span = (r.to - r.from).count() + 1;
  if (span > max_days(r.by))
    return error{errc::invalid_field,
                 fmt::format("a series by {} covers at most {} days; from {} "
                             "to {} is {}",
                             to_string(r.by), max_days(r.by),
                             to_iso_day(r.from), to_iso_day(r.to), span),
                 "from"};
  return r;
}

sales_figures& sales_figures::operator+=(const sales_figures& x) noexcept {
  sales += x.sales;
  gross += x.gross;
  fees += x.fees;
  net += x.net;
  refunds += x.refunds;
  return *this;
}

std::vector<sales_series> fold_sales(const sales_range& range,
                                     const std::vector<std::string>& currencies,
                                     const std::vector<day_sales>& days) {
  std::vector<sales_point> empty;
  for (auto s = bucket_start(range.from, range.by); s <= range.to;
       s = next_start(s, range.by))
    empty.push_back(sales_point{s, {}});
  std::map<std::string, sales_series> by_currency;
  auto series_of = [&](const std::string& currency) -> sales_series& {
    auto [at, fresh] = by_currency.try_emplace(currency);
    if (fresh) {
      at->second.currency = currency;
      at->second.points = empty;
    }
    return at->second;
  };
  for (auto& c : currencies)
    series_of(c);
  for (auto& d : days) {
    if (d.day < range.from || d.day > range.to)
      continue;
    auto& s = series_of(d.currency);
    // The last bucket starting on or before the day.
    auto at = std::upper_bound(
      s.points.begin(), s.points.end(), d.day,
      [](day_point day, const sales_point& p) { return day < p.start; });
    std::prev(at)->figures += d.figures;
    s.totals += d.figures;
  }
  std::vector<sales_series> out;
  for (auto& [currency, s] : by_currency)
    out.push_back(std::move(s));
  return out;
}

expected<std::vector<sales_series>> sales_of(persistence::database& db,
                                             const std::string& creator_id,
                                             const sales_range& range) {
  persistence::ledger_repository ledger{db};
  auto accounts = ledger.accounts_of(creator_id);
  if (!accounts)
    return accounts.err();
  auto rows = ledger.sales_by_day(creator_id, range.from, range.to);
  if (!rows)
    return rows.err();
  std::set<std::string> currencies;
  for (auto& a : *accounts)
    currencies.insert(a.currency);
  std::vector<day_sales> days;
  for (auto& r : *rows) {
    auto day = parse_iso_day(r.day);
    if (!day)
      return error{errc::internal,
                   "a ledger entry's created_at does not start with a day: "
                     + day.err().detail};
    days.push_back(day_sales{
      *day, r.currency, {r.sales, r.net + r.fees, r.fees, r.net, r.refunds}});
  }
  return fold_sales(
    range, std::vector<std::string>{currencies.begin(), currencies.end()},
    days);
}

} // namespace souk::wallet
