#include <boost/test/unit_test.hpp>

#include "souk/core/time.hpp"

BOOST_AUTO_TEST_SUITE(timestamps)

BOOST_AUTO_TEST_CASE(iso_timestamps_round_trip) {
  auto t = souk::now();
  auto text = souk::to_iso(t);
  BOOST_TEST(text.size() == 24u);
  BOOST_TEST(text.back() == 'Z');
  auto back = souk::parse_iso(text);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->time_since_epoch().count() == t.time_since_epoch().count());
}

BOOST_AUTO_TEST_CASE(known_instant_formats_as_utc) {
  souk::timestamp t{std::chrono::milliseconds{1'767'225'600'123}};
  BOOST_TEST(souk::to_iso(t) == "2026-01-01T00:00:00.123Z");
}

BOOST_AUTO_TEST_CASE(text_order_is_time_order) {
  souk::timestamp a{std::chrono::milliseconds{999}};
  souk::timestamp b{std::chrono::milliseconds{1'000}};
  BOOST_TEST(souk::to_iso(a) < souk::to_iso(b));
}

BOOST_AUTO_TEST_CASE(malformed_timestamps_are_refused) {
  for (auto bad : {"", "2026-01-01", "2026-01-01T00:00:00Z",
                   "2026-02-30T00:00:00.000Z", "2026-01-01T24:00:00.000Z",
                   "2026-01-01 00:00:00.000Z", "2026-01-01T00:00:00.000+01"})
    BOOST_TEST(!souk::parse_iso(bad));
}

BOOST_AUTO_TEST_CASE(days_round_trip_and_match_timestamps) {
  auto d = souk::parse_iso_day("2026-02-28");
  BOOST_REQUIRE(d);
  BOOST_TEST(souk::to_iso_day(*d) == "2026-02-28");
  BOOST_TEST(souk::to_iso_day(*d + std::chrono::days{1}) == "2026-03-01");
  BOOST_TEST(souk::to_iso_day(*souk::parse_iso_day("2024-02-29"))
             == "2024-02-29");
  // The day of a timestamp is the first ten characters of its text.
  souk::timestamp t{std::chrono::milliseconds{1'767'225'599'999}};
  BOOST_TEST(souk::to_iso(t) == "2025-12-31T23:59:59.999Z");
  BOOST_TEST(souk::to_iso_day(souk::day_of(t)) == "2025-12-31");
  auto now = souk::now();
  BOOST_TEST(souk::to_iso_day(souk::day_of(now))
             == souk::to_iso(now).substr(0, 10));
}

BOOST_AUTO_TEST_CASE(malformed_days_are_refused) {
  for (auto bad : {"", "2026-1-01", "2026-01-1", "26-01-01", "2026/01/01",
                   "2026-01-01T00:00:00.000Z", " 2026-01-01", "2026-01-01 ",
                   "2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10",
                   "-001-01-01", "2026-+1-01", "2026-01-00"}) {
    auto d = souk::parse_iso_day(bad);
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!d);
    if (!d)
      BOOST_TEST(d.err().code == souk::errc::invalid_field);
  }
}

BOOST_AUTO_TEST_SUITE_END()
