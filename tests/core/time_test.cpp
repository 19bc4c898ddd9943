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

BOOST_AUTO_TEST_SUITE_END()
