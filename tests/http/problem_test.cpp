#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "souk/http/problem.hpp"

using souk::errc;

BOOST_AUTO_TEST_SUITE(problem)

BOOST_AUTO_TEST_CASE(every_code_maps_to_a_status) {
  BOOST_TEST(souk::http::status_of(errc::invalid_field) == 422u);
  BOOST_TEST(souk::http::status_of(errc::malformed_request) == 400u);
  BOOST_TEST(souk::http::status_of(errc::unauthorized) == 401u);
  BOOST_TEST(souk::http::status_of(errc::forbidden) == 403u);
  BOOST_TEST(souk::http::status_of(errc::not_found) == 404u);
  BOOST_TEST(souk::http::status_of(errc::conflict) == 409u);
  BOOST_TEST(souk::http::status_of(errc::precondition_failed) == 412u);
  BOOST_TEST(souk::http::status_of(errc::payment_refused) == 422u);
  BOOST_TEST(souk::http::status_of(errc::precondition_required) == 428u);
  BOOST_TEST(souk::http::status_of(errc::payload_too_large) == 413u);
  BOOST_TEST(souk::http::status_of(errc::rate_limited) == 429u);
  BOOST_TEST(souk::http::status_of(errc::header_too_large) == 431u);
  BOOST_TEST(souk::http::status_of(errc::unavailable) == 503u);
  BOOST_TEST(souk::http::status_of(errc::database) == 500u);
}

BOOST_AUTO_TEST_CASE(documents_carry_the_stable_fields) {
  auto res = souk::http::problem(
    souk::error{errc::invalid_field, "price must be positive", "price.amount"},
    "req-1");
  BOOST_TEST(res.status == 422u);
  BOOST_TEST(res.content_type == "application/problem+json");
  auto doc = nlohmann::json::parse(res.body);
  BOOST_TEST(doc["code"] == "invalid_field");
  BOOST_TEST(doc["status"] == 422);
  BOOST_TEST(doc["type"] == "urn:souk:problem:invalid_field");
  BOOST_TEST(doc["detail"] == "price must be positive");
  BOOST_TEST(doc["field"] == "price.amount");
  BOOST_TEST(doc["request_id"] == "req-1");
  BOOST_TEST(doc.contains("title"));
}

BOOST_AUTO_TEST_CASE(internal_details_never_reach_the_client) {
  auto res = souk::http::problem(
    errc::database, "ERROR: relation \"secret_table\" does not exist", "r2");
  BOOST_TEST(res.status == 500u);
  BOOST_TEST(res.body.find("secret_table") == std::string::npos);
  BOOST_TEST(res.body.find("r2") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
