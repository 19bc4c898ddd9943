#include <limits>

#include <boost/test/unit_test.hpp>

#include "souk/core/units.hpp"

using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(units)

BOOST_AUTO_TEST_CASE(durations_parse_in_every_unit) {
  BOOST_TEST(souk::parse_duration("250ms")->count() == 250);
  BOOST_TEST(souk::parse_duration("30s")->count() == 30'000);
  BOOST_TEST(souk::parse_duration("5m")->count() == 300'000);
  BOOST_TEST(souk::parse_duration("2h")->count() == 7'200'000);
  BOOST_TEST(souk::parse_duration("7d")->count() == 604'800'000);
  BOOST_TEST(souk::parse_duration("1h30m")->count() == 5'400'000);
  BOOST_TEST(souk::parse_duration("0s")->count() == 0);
}

BOOST_AUTO_TEST_CASE(bad_durations_are_refused_with_the_input_named) {
  for (auto bad : {"", "30", "s", "-5s", "5 s", "5sec", "1.5h", "5s junk",
                   "99999999999999999999h"}) {
    auto d = souk::parse_duration(bad);
    BOOST_TEST_INFO("input: '" << bad << "'");
    BOOST_REQUIRE(!d);
    BOOST_TEST(d.err().code == souk::errc::invalid_field);
    BOOST_TEST(d.err().detail.find(std::string{"'"} + bad + "'")
               != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(durations_format_back_to_what_parses) {
  for (auto ms : {1ms, 999ms, 1000ms, 90'000ms, 5'400'000ms, 86'400'001ms}) {
    auto text = souk::format_duration(ms);
    BOOST_TEST_INFO("text: " << text);
    BOOST_TEST(souk::parse_duration(text)->count() == ms.count());
  }
  BOOST_TEST(souk::format_duration(90'000ms) == "1m30s");
}

BOOST_AUTO_TEST_CASE(sizes_parse_binary_and_decimal_units) {
  BOOST_TEST(*souk::parse_size("4096") == 4096u);
  BOOST_TEST(*souk::parse_size("512B") == 512u);
  BOOST_TEST(*souk::parse_size("64KiB") == 65'536u);
  BOOST_TEST(*souk::parse_size("1MiB") == 1'048'576u);
  BOOST_TEST(*souk::parse_size("2GiB") == 2'147'483'648u);
  BOOST_TEST(*souk::parse_size("10KB") == 10'000u);
  BOOST_TEST(*souk::parse_size("1GB") == 1'000'000'000u);
}

BOOST_AUTO_TEST_CASE(bad_sizes_are_refused) {
  for (auto bad :
       {"", "MiB", "1.5MiB", "1 MiB", "1mib", "-1", "1XB", "99999999999TiB"}) {
    BOOST_TEST_INFO("input: '" << bad << "'");
    BOOST_TEST(!souk::parse_size(bad));
  }
}

BOOST_AUTO_TEST_CASE(sizes_format_exactly) {
  BOOST_TEST(souk::format_size(1'048'576) == "1MiB");
  BOOST_TEST(souk::format_size(1'048'577) == "1048577B");
  BOOST_TEST(souk::format_size(16'384) == "16KiB");
}

BOOST_AUTO_TEST_CASE(uints_refuse_what_atoi_would_accept) {
  BOOST_TEST(*souk::parse_uint("42") == 42u);
  for (auto bad :
       {"", " 42", "42 ", "+42", "-1", "4x2", "0x10", "18446744073709551616"})
    BOOST_TEST(!souk::parse_uint(bad));
}

BOOST_AUTO_TEST_CASE(money_formats_for_people) {
  BOOST_TEST(souk::format_money(500000, "NGN") == "NGN 5,000.00");
  BOOST_TEST(souk::format_money(5, "USD") == "USD 0.05");
  BOOST_TEST(souk::format_money(0, "NGN") == "NGN 0.00");
  BOOST_TEST(souk::format_money(123456789012, "NGN") == "NGN 1,234,567,890.12");
  BOOST_TEST(souk::format_money(-150, "USD") == "USD -1.50");
  BOOST_TEST(souk::format_money(std::numeric_limits<int64_t>::min(), "NGN")
             == "NGN -92,233,720,368,547,758.08");
}

BOOST_AUTO_TEST_SUITE_END()
