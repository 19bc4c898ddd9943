// Money rules and listing cursors: no database, no I/O.

#include <boost/test/unit_test.hpp>

#include "souk/catalog/money.hpp"
#include "souk/catalog/service.hpp"

namespace sc = souk::catalog;
using souk::errc;

namespace {

// The field a price check names, or "" if it passes.
std::string field_of(const souk::status& st) {
  BOOST_TEST((st.code == errc::ok || st.code == errc::invalid_field));
  return st.field;
}

} // namespace

BOOST_AUTO_TEST_SUITE(money)

BOOST_AUTO_TEST_CASE(gateway_minimums_are_paystacks) {
  BOOST_TEST(*sc::gateway_minimum("NGN") == 5000);
  BOOST_TEST(*sc::gateway_minimum("USD") == 200);
  BOOST_TEST(!sc::gateway_minimum("EUR"));
  BOOST_TEST(!sc::gateway_minimum("ngn"));
  BOOST_TEST(!sc::gateway_minimum(""));
}

BOOST_AUTO_TEST_CASE(prices_at_or_above_the_minimum_pass) {
  BOOST_TEST(field_of(sc::check_price({5000, "NGN"}, "price")) == "");
  BOOST_TEST(field_of(sc::check_price({200, "USD"}, "price")) == "");
  BOOST_TEST(field_of(sc::check_price({INT64_MAX, "USD"}, "price")) == "");
}

BOOST_AUTO_TEST_CASE(bad_prices_name_the_field) {
  struct bad {
    sc::money m;
    std::string field;
  };
  for (auto& [m, field] : std::vector<bad>{
         {{-1, "NGN"}, "price.amount"},
         {{INT64_MIN, "NGN"}, "price.amount"},
         {{0, "NGN"}, "price.amount"},
         {{4999, "NGN"}, "price.amount"},
         {{199, "USD"}, "price.amount"},
         {{5000, "EUR"}, "price.currency"},
         {{5000, "ngn"}, "price.currency"},
         {{5000, ""}, "price.currency"},
         // Currency first: an amount means nothing without it.
         {{-1, "XXX"}, "price.currency"},
       }) {
    auto st = sc::check_price(m, "price");
    BOOST_TEST_INFO(m.amount << " " << m.currency << ": " << st.detail);
    BOOST_TEST(st.code == errc::invalid_field);
    BOOST_TEST(st.field == field);
  }
  auto below = sc::check_price({4999, "NGN"}, "price");
  BOOST_TEST(below.detail.find("NGN 50.00") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(minimum_prices_follow_the_price) {
  sc::money price{10000, "NGN"};
  BOOST_TEST(field_of(sc::check_min_price({5000, "NGN"}, price, "min_price"))
             == "");
  BOOST_TEST(field_of(sc::check_min_price({10000, "NGN"}, price, "min_price"))
             == "");
  BOOST_TEST(field_of(sc::check_min_price({10001, "NGN"}, price, "min_price"))
             == "min_price.amount");
  BOOST_TEST(field_of(sc::check_min_price({4999, "NGN"}, price, "min_price"))
             == "min_price.amount");
  BOOST_TEST(field_of(sc::check_min_price({0, "NGN"}, price, "min_price"))
             == "min_price.amount");
  BOOST_TEST(field_of(sc::check_min_price({500, "USD"}, price, "min_price"))
             == "min_price.currency");
  BOOST_TEST(field_of(sc::check_min_price({5000, "GBP"}, price, "min_price"))
             == "min_price.currency");
}

BOOST_AUTO_TEST_CASE(amounts_display_in_major_units) {
  BOOST_TEST(sc::to_display({5000, "NGN"}) == "NGN 50.00");
  BOOST_TEST(sc::to_display({205, "USD"}) == "USD 2.05");
  BOOST_TEST(sc::to_display({7, "USD"}) == "USD 0.07");
  BOOST_TEST(sc::to_display({-150, "USD"}) == "USD -1.50");
  BOOST_TEST(sc::to_display({INT64_MIN, "USD"}) == "USD -92233720368547758.08");
}

BOOST_AUTO_TEST_CASE(the_default_flow_is_known_by_default) {
  sc::options o;
  BOOST_TEST(o.flows.size() == 1u);
  BOOST_TEST(o.flows.front() == sc::default_flow);
}

BOOST_AUTO_TEST_CASE(cursors_round_trip_and_refuse_forgeries) {
  std::string id = "0190a6f2-6d3e-7c41-8a4b-1f2e3d4c5b6a";
  auto cursor = sc::encode_cursor(id);
  BOOST_TEST(cursor.find(id) == std::string::npos); // opaque, not the id
  auto back = sc::decode_cursor(cursor);
  BOOST_REQUIRE(back);
  BOOST_TEST(*back == id);
  for (std::string bad :
       {std::string{"garbage!"}, std::string{"cDE6bm90LWEtdXVpZA"},
        cursor.substr(1), cursor + "A", std::string(500, 'A'),
        std::string{"%27%20OR%201=1"}}) {
    auto d = sc::decode_cursor(bad);
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!d);
    if (!d)
      BOOST_TEST(d.err().field == "cursor");
  }
}

BOOST_AUTO_TEST_SUITE_END()
