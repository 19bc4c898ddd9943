// The dashboard's series without a database: the requested range (defaults
// and refusals), ISO weeks and months, and folding days into buckets with
// every bucket present.

#include <boost/test/unit_test.hpp>

#include "souk/wallet/sales.hpp"

namespace w = souk::wallet;

namespace {

souk::day_point day(std::string_view text) {
  auto d = souk::parse_iso_day(text);
  BOOST_REQUIRE(d);
  return *d;
}

std::string text(souk::day_point d) {
  return souk::to_iso_day(d);
}

w::sales_range range(std::string_view from, std::string_view to, w::bucket by) {
  return {day(from), day(to), by};
}

// A day's figures for a number of sales of 1,000 (fee 100) and a refund.
w::day_sales sold(std::string_view d, int64_t sales, int64_t refunds = 0,
                  std::string currency = "NGN") {
  return {day(d),
          std::move(currency),
          {sales, sales * 1'000, sales * 100, sales * 900, refunds}};
}

// The error `parse_sales_range` gives, or an empty one.
souk::error refusal(std::optional<std::string_view> from,
                    std::optional<std::string_view> to,
                    std::optional<std::string_view> by) {
  auto r = w::parse_sales_range(from, to, by, day("2026-11-15"));
  return r ? souk::error{} : r.err();
}

} // namespace

BOOST_AUTO_TEST_SUITE(sales_folding)

BOOST_AUTO_TEST_CASE(the_range_defaults_to_thirty_days_to_today_by_day) {
  auto today = day("2026-11-15");
  auto r = w::parse_sales_range({}, {}, {}, today);
  BOOST_REQUIRE(r);
  BOOST_TEST(text(r->from) == "2026-10-17");
  BOOST_TEST(text(r->to) == "2026-11-15");
  BOOST_TEST((r->by == w::bucket::day));
  auto only_to = w::parse_sales_range({}, "2026-03-01", "week", today);
  BOOST_REQUIRE(only_to);
  BOOST_TEST(text(only_to->from) == "2026-01-31");
  BOOST_TEST((only_to->by == w::bucket::week));
  auto only_from = w::parse_sales_range("2026-11-01", {}, "month", today);
  BOOST_REQUIRE(only_from);
  BOOST_TEST(text(only_from->from) == "2026-11-01");
  BOOST_TEST(text(only_from->to) == "2026-11-15");
  auto one_day = w::parse_sales_range("2026-11-15", "2026-11-15", {}, today);
  BOOST_TEST(one_day.has_value());
}

BOOST_AUTO_TEST_CASE(bad_ranges_are_refused_naming_the_parameter) {
  struct bad {
    std::optional<std::string_view> from, to, by;
    std::string field;
    std::string says;
  };
  for (auto& b : std::vector<bad>{
         {"2026-11-31", {}, {}, "from", "YYYY-MM-DD"},
         {"yesterday", {}, {}, "from", "YYYY-MM-DD"},
         {{}, "2026-1-1", {}, "to", "YYYY-MM-DD"},
         {{}, "", {}, "to", "YYYY-MM-DD"},
         {{}, {}, "year", "bucket", "day, week or month"},
         {{}, {}, "Day", "bucket", "day, week or month"},
         {"2026-11-16", {}, {}, "from", "must not be after"},
         {"2026-11-02", "2026-11-01", {}, "from", "must not be after"},
         {"2025-11-14", "2026-11-15", "day", "from", "at most 366 days"},
         {"2021-11-14", "2026-11-15", "week", "from", "at most 1827 days"},
         {"2021-11-14", "2026-11-15", "month", "from", "at most 1827 days"},
       }) {
    auto err = refusal(b.from, b.to, b.by);
    BOOST_TEST_INFO(b.from.value_or("-")
                    << " " << b.to.value_or("-") << " " << b.by.value_or("-")
                    << ": " << err.detail);
    BOOST_TEST(err.code == souk::errc::invalid_field);
    BOOST_TEST(err.field == b.field);
    BOOST_TEST(err.detail.find(b.says) != std::string::npos);
  }
  // The longest ranges allowed.
  BOOST_TEST(!refusal("2025-11-15", "2026-11-15", "day"));
  BOOST_TEST(!refusal("2021-11-15", "2026-11-15", "week"));
  BOOST_TEST(!refusal("2021-11-15", "2026-11-15", "month"));
}

BOOST_AUTO_TEST_CASE(weeks_start_on_monday_and_months_on_the_first) {
  // 2026-11-01 is a Sunday: its ISO week began on Monday 2026-10-26.
  BOOST_TEST(text(w::bucket_start(day("2026-11-01"), w::bucket::week))
             == "2026-10-26");
  BOOST_TEST(text(w::bucket_start(day("2026-11-02"), w::bucket::week))
             == "2026-11-02");
  BOOST_TEST(text(w::bucket_start(day("2026-11-08"), w::bucket::week))
             == "2026-11-02");
  BOOST_TEST(text(w::bucket_start(day("2027-01-01"), w::bucket::week))
             == "2026-12-28");
  BOOST_TEST(text(w::bucket_start(day("2024-02-29"), w::bucket::month))
             == "2024-02-01");
  BOOST_TEST(text(w::bucket_start(day("2026-11-08"), w::bucket::day))
             == "2026-11-08");
}

BOOST_AUTO_TEST_CASE(every_day_is_present_with_zeros_where_nothing_sold) {
  auto series
    = w::fold_sales(range("2026-11-01", "2026-11-05", w::bucket::day), {"NGN"},
                    {sold("2026-11-02", 2), sold("2026-11-05", 1, 300)});
  BOOST_REQUIRE(series.size() == 1u);
  auto& s = series[0];
  BOOST_TEST(s.currency == "NGN");
  BOOST_REQUIRE(s.points.size() == 5u);
  std::vector<int64_t> sales, earnings;
  for (auto& p : s.points) {
    sales.push_back(p.figures.sales);
    earnings.push_back(p.figures.earnings());
  }
  BOOST_TEST(sales == (std::vector<int64_t>{0, 2, 0, 0, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(earnings == (std::vector<int64_t>{0, 1'800, 0, 0, 600}),
             boost::test_tools::per_element());
  BOOST_TEST(text(s.points[0].start) == "2026-11-01");
  BOOST_TEST(text(s.points[4].start) == "2026-11-05");
  BOOST_TEST(s.totals.sales == 3);
  BOOST_TEST(s.totals.gross == 3'000);
  BOOST_TEST(s.totals.fees == 300);
  BOOST_TEST(s.totals.net == 2'700);
  BOOST_TEST(s.totals.refunds == 300);
  BOOST_TEST(s.totals.earnings() == 2'400);
}

BOOST_AUTO_TEST_CASE(weeks_fold_days_and_are_labelled_by_their_monday) {
  // Sunday 2026-11-01 to Wednesday 2026-11-18: four ISO weeks, the first
  // and last partial.
  auto series = w::fold_sales(
    range("2026-11-01", "2026-11-18", w::bucket::week), {},
    {sold("2026-11-01", 1), sold("2026-11-02", 1), sold("2026-11-08", 2),
     sold("2026-11-18", 1, 50), sold("2026-11-19", 7), sold("2026-10-31", 7)});
  BOOST_REQUIRE(series.size() == 1u);
  auto& p = series[0].points;
  BOOST_REQUIRE(p.size() == 4u);
  BOOST_TEST(text(p[0].start) == "2026-10-26");
  BOOST_TEST(text(p[1].start) == "2026-11-02");
  BOOST_TEST(text(p[2].start) == "2026-11-09");
  BOOST_TEST(text(p[3].start) == "2026-11-16");
  BOOST_TEST(p[0].figures.sales == 1); // not the day before the range
  BOOST_TEST(p[1].figures.sales == 3);
  BOOST_TEST(p[2].figures.sales == 0);
  BOOST_TEST(p[3].figures.sales == 1); // not the day after it
  BOOST_TEST(p[3].figures.refunds == 50);
  BOOST_TEST(series[0].totals.sales == 5);
}

BOOST_AUTO_TEST_CASE(months_fold_days_and_are_labelled_by_their_first) {
  auto series = w::fold_sales(
    range("2024-01-31", "2024-03-01", w::bucket::month), {},
    {sold("2024-01-31", 1), sold("2024-02-29", 2), sold("2024-03-01", 4)});
  BOOST_REQUIRE(series.size() == 1u);
  auto& p = series[0].points;
  BOOST_REQUIRE(p.size() == 3u);
  BOOST_TEST(text(p[0].start) == "2024-01-01");
  BOOST_TEST(text(p[1].start) == "2024-02-01");
  BOOST_TEST(text(p[2].start) == "2024-03-01");
  BOOST_TEST(p[0].figures.sales == 1);
  BOOST_TEST(p[1].figures.sales == 2);
  BOOST_TEST(p[2].figures.sales == 4);
  // A year by month: twelve points.
  auto year = w::fold_sales(range("2026-01-01", "2026-12-31", w::bucket::month),
                            {"USD"}, {});
  BOOST_REQUIRE(year.size() == 1u);
  BOOST_TEST(year[0].points.size() == 12u);
  BOOST_TEST(text(year[0].points.back().start) == "2026-12-01");
}

BOOST_AUTO_TEST_CASE(one_series_per_currency_even_without_activity) {
  auto series = w::fold_sales(
    range("2026-11-01", "2026-11-02", w::bucket::day), {"USD", "NGN"},
    {sold("2026-11-02", 1, 0, "GHS"), sold("2026-11-01", 1, 0, "USD")});
  BOOST_REQUIRE(series.size() == 3u);
  BOOST_TEST(series[0].currency == "GHS");
  BOOST_TEST(series[1].currency == "NGN");
  BOOST_TEST(series[2].currency == "USD");
  BOOST_TEST(series[0].totals.sales == 1);
  BOOST_TEST(series[1].totals.sales == 0);
  BOOST_TEST(series[1].points.size() == 2u);
  BOOST_TEST(series[2].points[0].figures.sales == 1);
  BOOST_TEST(
    w::fold_sales(range("2026-11-01", "2026-11-02", w::bucket::day), {}, {})
      .empty());
}

BOOST_AUTO_TEST_SUITE_END()
