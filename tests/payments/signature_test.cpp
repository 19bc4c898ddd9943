// Webhook signatures against fixed vectors computed outside souk: RFC 4231
// test case 2 and Python's `hmac.new(key, body, hashlib.sha512).hexdigest()`
// for the other bodies (the values below were computed that way, not by
// souk's code).

#include <boost/test/unit_test.hpp>

#include "souk/core/hash.hpp"
#include "souk/payments/gateway.hpp"

namespace pay = souk::payments;

namespace {

constexpr const char* body
  = R"({"event":"charge.success","data":{"id":1,"reference":"souk-abc","amount":500000,"currency":"NGN","status":"success"}})";
constexpr const char* body_sig
  = "632376c2c2c4a77462c002b56d262eb91f12b6f92e6b2c65a3e5b50d1fb8774a5a0ff543"
    "d07890cd67e9c0ca19be35c0d00250882ef5fbc70ad464d8fa7a601d";

std::shared_ptr<pay::gateway> driver(const std::string& key) {
  pay::paystack_options o;
  o.secret_key = key;
  o.base_url = "http://127.0.0.1:1";
  return pay::make_paystack(o);
}

} // namespace

BOOST_AUTO_TEST_SUITE(signature)

BOOST_AUTO_TEST_CASE(hmac_sha512_matches_fixed_vectors) {
  // RFC 4231, test case 2.
  BOOST_TEST(souk::hmac_sha512_hex("Jefe", "what do ya want for nothing?")
             == "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505"
                "549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bc"
                "e737");
  BOOST_TEST(
    souk::hmac_sha512_hex("key", "The quick brown fox jumps over the lazy dog")
    == "b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb82f948"
       "a549f7b791a5b41915ee4d1ec3935357e4e2317250d0372afa2ebeeb3a");
  // A key longer than SHA-512's block, and an empty body.
  BOOST_TEST(souk::hmac_sha512_hex(std::string(200, 'x'), "")
             == "16298f4e11f0218254d37b094bad2f64a632a2657bbfd234bd7a2cf35113c6"
                "f08cb222534b1352aa2ff9b3ce0d2ecd192ab80a87512ccdbe7e08165e540b"
                "4ea1");
  BOOST_TEST(pay::paystack_signature("sk_test_sandbox", body) == body_sig);
}

BOOST_AUTO_TEST_CASE(the_driver_checks_the_raw_bytes) {
  auto gw = driver("sk_test_sandbox");
  BOOST_TEST(gw->check_signature(body, body_sig));
  std::string upper = body_sig;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_TEST(gw->check_signature(body, upper)); // hex in either case
  std::string spaced = std::string{body} + " ";
  BOOST_TEST(!gw->check_signature(spaced, body_sig)); // not re-serialised
  BOOST_TEST(!gw->check_signature(body, ""));
  BOOST_TEST(!gw->check_signature(body, std::string{body_sig}.substr(1)));
  BOOST_TEST(!driver("sk_test_other")->check_signature(body, body_sig));
  BOOST_TEST(!driver("")->check_signature(body, body_sig));
}

BOOST_AUTO_TEST_CASE(parsing_events) {
  auto gw = driver("k");
  auto ev = gw->parse_webhook(body);
  BOOST_REQUIRE(ev);
  BOOST_TEST(ev->event == "charge.success");
  BOOST_TEST(ev->reference == "souk-abc");
  BOOST_TEST(ev->amount == 500000);
  BOOST_TEST(ev->key == "charge.success:1:success");
  // Refund events name the charge as transaction_reference, amount as text.
  auto refund = gw->parse_webhook(
    R"({"event":"refund.processed","data":{"id":"77","status":"processed","transaction_reference":"souk-abc","amount":"10000","currency":"NGN"}})");
  BOOST_REQUIRE(refund);
  BOOST_TEST(refund->reference == "souk-abc");
  BOOST_TEST(refund->amount == 10000);
  BOOST_TEST(refund->key == "refund.processed:77:processed");
  for (auto bad : {"", "[]", R"({"data":{}})", R"({"event":"x"})",
                   R"({"event":"x","data":{}})"})
    BOOST_TEST(!gw->parse_webhook(bad), bad);
}

BOOST_AUTO_TEST_CASE(reference_rules) {
  BOOST_TEST(pay::valid_charge_reference("souk-01a2.b=c"));
  BOOST_TEST(!pay::valid_charge_reference("has space"));
  BOOST_TEST(!pay::valid_charge_reference(""));
  BOOST_TEST(pay::valid_transfer_reference("payout-0123456789_ab"));
  BOOST_TEST(!pay::valid_transfer_reference("short"));
  BOOST_TEST(!pay::valid_transfer_reference("UPPER-case-reference-1"));
}

BOOST_AUTO_TEST_SUITE_END()
