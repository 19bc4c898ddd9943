#include <string>

#include <boost/test/unit_test.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include "souk/actors/error.hpp"

namespace sa = souk::actors;

using souk::errc;

BOOST_AUTO_TEST_SUITE(error_bridge)

BOOST_AUTO_TEST_CASE(souk_errors_round_trip_with_code_and_detail) {
  for (auto code :
       {errc::invalid_field, errc::not_found, errc::conflict, errc::unavailable,
        errc::timeout, errc::database, errc::internal, errc::request_timeout}) {
    BOOST_TEST_CONTEXT("errc::" << souk::to_string(code)) {
      souk::error in{code, "detail of " + std::string{souk::to_string(code)}};
      auto c = sa::to_caf(in);
      BOOST_REQUIRE(c);
      BOOST_TEST((c.category() == caf::atom("souk")));
      BOOST_TEST(c.code() == static_cast<uint8_t>(code));
      auto out = sa::from_caf(c);
      BOOST_TEST((out.code == code));
      BOOST_TEST(out.detail == in.detail);
    }
  }
}

BOOST_AUTO_TEST_CASE(unavailable_says_when_to_try_again_after_the_trip) {
  // CAF's error has no room for Retry-After; "unavailable" gets a second.
  souk::error busy{errc::unavailable, "the database is busy"};
  busy.retry_after = std::chrono::seconds{1};
  auto out = sa::from_caf(sa::to_caf(busy));
  BOOST_TEST(out.retry_after.count() == 1);
  BOOST_TEST(sa::from_caf(sa::to_caf(souk::error{errc::conflict, "x"}))
               .retry_after.count()
             == 0);
}

BOOST_AUTO_TEST_CASE(empty_detail_survives) {
  auto out = sa::from_caf(sa::to_caf(souk::error{errc::conflict, ""}));
  BOOST_TEST((out.code == errc::conflict));
  BOOST_TEST(out.detail.empty());
}

BOOST_AUTO_TEST_CASE(souk_code_without_context_keeps_its_code) {
  auto out = sa::from_caf(caf::make_error(errc::not_found));
  BOOST_TEST((out.code == errc::not_found));
  BOOST_TEST(out.detail.empty());
}

BOOST_AUTO_TEST_CASE(no_error_maps_to_no_error) {
  BOOST_TEST(!sa::to_caf(souk::error{}));
  BOOST_TEST(!sa::from_caf(caf::error{}));
}

BOOST_AUTO_TEST_CASE(request_timeout_becomes_timeout) {
  auto out = sa::from_caf(caf::make_error(caf::sec::request_timeout));
  BOOST_TEST((out.code == errc::timeout));
  BOOST_TEST(!out.detail.empty());
}

BOOST_AUTO_TEST_CASE(other_caf_errors_become_internal) {
  auto out = sa::from_caf(caf::make_error(caf::sec::runtime_error, "kaputt"));
  BOOST_TEST((out.code == errc::internal));
  BOOST_TEST(out.detail.find("kaputt") != std::string::npos,
             "detail: " << out.detail);
  out = sa::from_caf(caf::make_error(caf::exit_reason::user_shutdown));
  BOOST_TEST((out.code == errc::internal));
  BOOST_TEST(!out.detail.empty());
}

BOOST_AUTO_TEST_SUITE_END()
