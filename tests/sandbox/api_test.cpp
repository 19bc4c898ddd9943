// Paystack's transaction API as the sandbox serves it: shapes, validation,
// authentication, misbehaving verify; and the control API.

#include "fixture.hpp"

using namespace souk::testing;

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(initialize_answers_paystack_shape) {
  sandbox_app app;
  auto res = app.call_json("POST", "/transaction/initialize",
                           {{"email", "buyer@example.com"},
                            {"amount", 500000},
                            {"currency", "NGN"},
                            {"reference", "order-1.a=b"},
                            {"callback_url", "https://shop.test/return"},
                            {"metadata", {{"order_id", "o-1"}}},
                            {"channels", {"card"}},
                            {"unknown_field", 1}},
                           200);
  BOOST_TEST(res["status"] == true);
  BOOST_TEST(res["message"] == "Authorization URL created");
  auto& data = res["data"];
  BOOST_TEST(data["reference"] == "order-1.a=b");
  auto code = data["access_code"].get<std::string>();
  BOOST_TEST(!code.empty());
  BOOST_TEST(data["authorization_url"] == app.base_url() + "/checkout/" + code);
  BOOST_TEST(app.gw->stats().initialize_calls == 1u);
}

BOOST_AUTO_TEST_CASE(
  initialize_generates_a_reference_and_takes_string_amounts) {
  sandbox_app app;
  auto a = app.initialize({{"amount", "250000"}});
  auto b = app.initialize();
  auto ref = a["reference"].get<std::string>();
  BOOST_TEST(!ref.empty());
  BOOST_TEST(ref != b["reference"].get<std::string>());
  BOOST_TEST(a["access_code"] != b["access_code"]);
  BOOST_TEST(app.verify(ref)["data"]["amount"] == 250000);
}

BOOST_AUTO_TEST_CASE(initialize_refuses_a_duplicate_reference) {
  sandbox_app app;
  app.initialize({{"reference", "dup-1"}});
  auto res = app.call_json(
    "POST", "/transaction/initialize",
    {{"email", "other@example.com"}, {"amount", 1000}, {"reference", "dup-1"}},
    400);
  BOOST_TEST(res
             == (json{{"status", false},
                      {"message", "Duplicate Transaction Reference"}}));
}

BOOST_AUTO_TEST_CASE(initialize_refuses_bad_input_naming_the_field) {
  sandbox_app app;
  auto refused = [&](json body, const std::string& field) {
    auto res = app.call_json("POST", "/transaction/initialize", body, 400);
    BOOST_TEST_CONTEXT(body.dump() << " -> " << res.dump()) {
      BOOST_TEST(res["status"] == false);
      auto message = res.value("message", "");
      BOOST_TEST(message.find(field) != std::string::npos);
    }
  };
  json ok{{"email", "buyer@example.com"}, {"amount", 5000}};
  auto with = [&](const char* key, json value) {
    auto b = ok;
    b[key] = std::move(value);
    return b;
  };
  for (auto bad : {json("ref 1"), json("ref/1"), json("r\xc3\xa9"), json(""),
                   json(42), json(std::string(101, 'a'))})
    refused(with("reference", bad), "reference");
  for (auto bad :
       {json(0), json(-5), json(12.5), json("12.5"), json("abc"), json(""),
        json("-1"), json(true), json::object(), json("10000000000000000000")})
    refused(with("amount", bad), "amount");
  refused({{"email", "buyer@example.com"}}, "amount");
  for (auto bad :
       {json("nope"), json("a@b"), json("a b@example.com"), json(42), json("")})
    refused(with("email", bad), "mail");
  refused({{"amount", 5000}}, "email");
  refused(with("currency", "EUR"), "urrency");
  refused(with("currency", 566), "currency");
  refused(with("callback_url", "javascript:alert(1)"), "callback_url");
  refused(with("callback_url", "https://shop.test/a b"), "callback_url");
  refused(with("channels", "card"), "channels");
  for (auto body : {"", "{", "[1,2]", "\"text\""}) {
    auto res = app.call("POST", "/transaction/initialize", body);
    BOOST_TEST(res.status == 400u);
    BOOST_TEST(json::parse(res.body)["status"] == false);
  }
  // Nothing of it was stored.
  BOOST_TEST(app.verify("ref", 400)["status"] == false);
}

BOOST_AUTO_TEST_CASE(every_api_route_wants_the_secret_key) {
  sandbox_app app;
  auto ref = app.initialize()["reference"].get<std::string>();
  std::vector<std::pair<std::string, std::string>> routes{
    {"POST", "/transaction/initialize"},
    {"GET", "/transaction/verify/" + ref},
    {"POST", "/refund"},
    {"GET", "/refund"},
    {"POST", "/transferrecipient"},
    {"POST", "/transfer"},
    {"GET", "/transfer/verify/abc"},
    {"GET", "/_sandbox/behaviour"},
    {"PUT", "/_sandbox/behaviour"},
    {"GET", "/_sandbox/stats"},
    {"POST", "/_sandbox/transactions/" + ref + "/pay"}};
  for (auto& [method, target] : routes)
    for (std::string key : {"", "sk_test_wrong", "sk_test_sandbox_suite2"}) {
      auto res = app.call(method, target, "{}", key);
      BOOST_TEST_CONTEXT(method << " " << target << " key '" << key << "'") {
        BOOST_TEST(res.status == 401u);
        BOOST_TEST(json::parse(res.body)
                   == (json{{"status", false}, {"message", "Invalid key"}}));
      }
    }
  auto basic
    = http_request(app.port, "GET", "/transaction/verify/" + ref, "",
                   {{"Authorization", std::string{"Basic "} + secret}});
  BOOST_TEST(basic.status == 401u);
  // None of it counted or changed anything.
  BOOST_TEST(app.gw->verify_calls(ref) == 0u);
  BOOST_TEST(app.verify(ref)["data"]["status"] == "abandoned");
}

BOOST_AUTO_TEST_CASE(verify_reports_the_transaction_as_paystack_does) {
  sandbox_app app;
  auto ref = app
               .initialize({{"metadata", {{"order_id", "o-7"}}},
                            {"email", "Buyer@Example.com"}})["reference"]
               .get<std::string>();
  auto res = app.verify(ref);
  BOOST_TEST(res["status"] == true);
  BOOST_TEST(res["message"] == "Verification successful");
  auto data = res["data"];
  BOOST_TEST(data["status"] == "abandoned");
  BOOST_TEST(data["reference"] == ref);
  BOOST_TEST(data["amount"] == 500000);
  BOOST_TEST(data["currency"] == "NGN");
  BOOST_TEST(data["domain"] == "test");
  BOOST_TEST(data["channel"] == "card");
  BOOST_TEST(data["paid_at"].is_null());
  BOOST_TEST(data["log"].is_null());
  BOOST_TEST(data["message"].is_null());
  BOOST_TEST(data["metadata"] == (json{{"order_id", "o-7"}}));
  BOOST_TEST(data["id"].is_number_unsigned());
  BOOST_TEST(data["id"].get<uint64_t>() > 4'294'967'295u);
  BOOST_TEST(data["fees"] == 7500);
  BOOST_TEST(data["customer"]["email"] == "Buyer@Example.com");
  BOOST_TEST(
    data["customer"]["customer_code"].get<std::string>().rfind("CUS_", 0)
    == 0u);
  BOOST_TEST(data["authorization"] == json::object());

  BOOST_REQUIRE(!app.gw->pay(ref));
  data = app.verify(ref)["data"];
  BOOST_TEST(data["status"] == "success");
  BOOST_TEST(data["gateway_response"] == "Successful");
  BOOST_TEST(data["paid_at"].is_string());
  BOOST_TEST(data["authorization"]["last4"] == "4081");
  BOOST_TEST(data["authorization"]["bin"] == "408408");
  BOOST_TEST(data["authorization"]["card_type"] == "visa");
  BOOST_TEST(data["authorization"]["bank"] == "TEST BANK");
  BOOST_TEST(data["authorization"]["reusable"] == true);
  BOOST_TEST(
    data["authorization"]["authorization_code"].get<std::string>().rfind(
      "AUTH_", 0)
    == 0u);
  BOOST_TEST(app.gw->verify_calls(ref) == 2u);
  BOOST_TEST(app.gw->stats().verify_calls == 2u);
}

BOOST_AUTO_TEST_CASE(metadata_is_kept_as_given) {
  sandbox_app app;
  auto as_string = app.initialize({{"metadata", R"({"order_id":"o-8"})"}});
  auto none = app.initialize();
  BOOST_TEST(app.verify(as_string["reference"])["data"]["metadata"]
             == R"({"order_id":"o-8"})");
  BOOST_TEST(app.verify(none["reference"])["data"]["metadata"].is_null());
}

BOOST_AUTO_TEST_CASE(verify_of_an_unknown_reference_is_refused) {
  sandbox_app app;
  auto res = app.verify("no-such-ref", 400);
  BOOST_TEST(res
             == (json{{"status", false},
                      {"message", "Transaction reference not found"}}));
}

BOOST_AUTO_TEST_CASE(declined_transactions_verify_as_failed) {
  sandbox_app app;
  auto ref = app.initialize()["reference"].get<std::string>();
  BOOST_REQUIRE(!app.gw->decline(ref));
  auto data = app.verify(ref)["data"];
  BOOST_TEST(data["status"] == "failed");
  BOOST_TEST(data["gateway_response"] == "Declined");
  BOOST_TEST(data["paid_at"].is_null());
}

BOOST_AUTO_TEST_CASE(pay_and_decline_refuse_unknown_and_finished) {
  sandbox_app app;
  BOOST_TEST(app.gw->pay("nope").code == souk::errc::not_found);
  BOOST_TEST(app.gw->decline("nope").code == souk::errc::not_found);
  auto ref = app.paid();
  BOOST_TEST(app.gw->pay(ref).code == souk::errc::conflict);
  BOOST_TEST(app.gw->decline(ref).code == souk::errc::conflict);
  BOOST_TEST(app.verify(ref)["data"]["status"] == "success");
}

BOOST_AUTO_TEST_CASE(verify_errors_fail_the_first_calls_per_reference) {
  sandbox_app app;
  auto b = app.gw->current_behaviour();
  b.verify_errors = 2;
  app.gw->set_behaviour(b);
  auto first = app.initialize()["reference"].get<std::string>();
  auto second = app.initialize()["reference"].get<std::string>();
  auto error = json{{"status", false}, {"message", "Internal server error"}};
  BOOST_TEST(app.verify(first, 500) == error);
  BOOST_TEST(app.verify(first, 500) == error);
  BOOST_TEST(app.verify(first)["data"]["reference"] == first);
  BOOST_TEST(app.verify(first)["status"] == true);
  // Counted per reference.
  BOOST_TEST(app.verify(second, 500) == error);
  BOOST_TEST(app.gw->verify_calls(first) == 4u);
  BOOST_TEST(app.gw->verify_calls(second) == 1u);
  auto stats = app.gw->stats();
  BOOST_TEST(stats.verify_calls == 5u);
  BOOST_TEST(stats.verify_errors == 3u);
}

BOOST_AUTO_TEST_CASE(refunds_are_listed_by_transaction_newest_first) {
  sandbox_app app;
  auto a = app.paid();
  auto b = app.paid();
  auto a_id = app.verify(a)["data"]["id"].get<uint64_t>();
  for (int64_t amount : {100, 200, 300})
    app.call_json("POST", "/refund", {{"transaction", a}, {"amount", amount}},
                  200);
  app.call_json("POST", "/refund", {{"transaction", b}, {"amount", 50}}, 200);

  auto all = app.call_json("GET", "/refund", nullptr, 200);
  BOOST_TEST(all["data"].size() == 4u);
  BOOST_TEST(all["meta"]["total"] == 4);
  // By the charge's id (as Paystack filters) or its reference.
  for (auto key : {std::to_string(a_id), a}) {
    auto of_a
      = app.call_json("GET", "/refund?transaction=" + key, nullptr, 200);
    BOOST_TEST(of_a["message"] == "Refunds retrieved");
    BOOST_REQUIRE(of_a["data"].size() == 3u);
    BOOST_TEST(of_a["data"][0]["amount"] == 300); // newest first
    BOOST_TEST(of_a["data"][2]["amount"] == 100);
    BOOST_TEST(of_a["data"][0]["transaction"] == a_id);
    BOOST_TEST(of_a["data"][0]["status"] == "pending");
  }
  auto page2 = app.call_json(
    "GET", "/refund?transaction=" + a + "&perPage=2&page=2", nullptr, 200);
  BOOST_REQUIRE(page2["data"].size() == 1u);
  BOOST_TEST(page2["data"][0]["amount"] == 100);
  BOOST_TEST(page2["meta"]["pageCount"] == 2);
  BOOST_TEST(page2["meta"]["skipped"] == 2);
  auto usd = app.call_json("GET", "/refund?currency=USD", nullptr, 200);
  BOOST_TEST(usd["data"].empty());
  auto unknown
    = app.call_json("GET", "/refund?transaction=nobody-knows", nullptr, 200);
  BOOST_TEST(unknown["data"].empty());
  BOOST_TEST(unknown["meta"]["total"] == 0);
  for (auto bad : {"perPage=0", "perPage=101", "page=x", "page=0"}) {
    auto res
      = app.call_json("GET", std::string{"/refund?"} + bad, nullptr, 400);
    BOOST_TEST(res["status"] == false);
  }
  BOOST_TEST(app.gw->stats().refund_list_calls >= 8u);
}

BOOST_AUTO_TEST_CASE(amount_delta_shifts_what_verify_reports) {
  sandbox_app app;
  auto b = app.gw->current_behaviour();
  b.amount_delta = -100;
  app.gw->set_behaviour(b);
  auto init = app.initialize();
  auto page = http_request(
    app.port, "GET", "/checkout/" + init["access_code"].get<std::string>());
  BOOST_TEST(page.body.find("NGN 5,000.00") != std::string::npos);
  auto ref = init["reference"].get<std::string>();
  BOOST_REQUIRE(!app.gw->pay(ref));
  auto data = app.verify(ref)["data"];
  BOOST_TEST(data["amount"] == 499900);
  BOOST_TEST(data["requested_amount"] == 499900);
  // The charge itself is unchanged: a full refund is still 500000.
  auto refund = app.call_json("POST", "/refund", {{"transaction", ref}}, 200);
  BOOST_TEST(refund["data"]["amount"] == 500000);
}

BOOST_AUTO_TEST_CASE(unknown_paths_answer_404_json) {
  sandbox_app app;
  auto res = app.call("GET", "/transaction/nope/x/y");
  BOOST_TEST(res.status == 404u);
  BOOST_TEST(!json::parse(res.body, nullptr, false).is_discarded());
  res = app.call("DELETE", "/transaction/initialize");
  BOOST_TEST(res.status == 405u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(control)

BOOST_AUTO_TEST_CASE(behaviour_is_read_and_replaced_over_http) {
  sandbox_app app;
  auto res = app.call_json("GET", "/_sandbox/behaviour", nullptr, 200);
  BOOST_TEST(res["data"]
             == (json{{"copies", 1},
                      {"delay_ms", 0},
                      {"drop", false},
                      {"reorder", false},
                      {"reorder_window_ms", 300},
                      {"verify_errors", 0},
                      {"amount_delta", 0}}));
  json wanted{
    {"copies", 3},       {"delay_ms", 20},          {"drop", true},
    {"reorder", true},   {"reorder_window_ms", 50}, {"verify_errors", 2},
    {"amount_delta", -7}};
  res = app.call_json("PUT", "/_sandbox/behaviour", wanted, 200);
  BOOST_TEST(res["data"] == wanted);
  auto b = app.gw->current_behaviour();
  BOOST_TEST(b.copies == 3u);
  BOOST_TEST(b.delay.count() == 20);
  BOOST_TEST(b.drop);
  BOOST_TEST(b.reorder);
  BOOST_TEST(b.reorder_window.count() == 50);
  BOOST_TEST(b.verify_errors == 2u);
  BOOST_TEST(b.amount_delta == -7);
  // PUT replaces: what is left out goes back to its default.
  res = app.call_json("PUT", "/_sandbox/behaviour", {{"copies", 2}}, 200);
  BOOST_TEST(app.gw->current_behaviour().copies == 2u);
  BOOST_TEST(!app.gw->current_behaviour().drop);
  BOOST_TEST(app.gw->current_behaviour().amount_delta == 0);
}

BOOST_AUTO_TEST_CASE(behaviour_refuses_unknown_fields_and_bad_values) {
  sandbox_app app;
  for (auto body :
       {json{{"copy", 2}}, json{{"copies", 0}}, json{{"copies", "2"}},
        json{{"copies", 1000}}, json{{"drop", "yes"}}, json{{"delay_ms", -1}},
        json{{"verify_errors", 2.5}},
        json{{"amount_delta", 18446744073709551615u}}}) {
    auto res = app.call_json("PUT", "/_sandbox/behaviour", body, 400);
    BOOST_TEST_CONTEXT(body.dump() << " -> " << res.dump()) {
      BOOST_TEST(res["status"] == false);
      BOOST_TEST(res.value("message", "").find(body.begin().key())
                 != std::string::npos);
    }
  }
  BOOST_TEST(app.gw->current_behaviour().copies == 1u);
}

BOOST_AUTO_TEST_CASE(stats_list_counters_and_attempts) {
  sandbox_app app;
  auto ref = app.paid();
  app.verify(ref);
  app.wait_delivered(1);
  auto res = app.call_json("GET", "/_sandbox/stats", nullptr, 200);
  auto& data = res["data"];
  BOOST_TEST(data["initialize_calls"] == 1);
  BOOST_TEST(data["verify_calls"] == 1);
  BOOST_TEST(data["webhooks_delivered"] == 1);
  BOOST_TEST(data["webhook_attempts"] == 1);
  BOOST_TEST(data["webhooks_dropped"] == 0);
  BOOST_REQUIRE(data["attempts"].size() == 1u);
  auto& a = data["attempts"][0];
  BOOST_TEST(a["event"] == "charge.success");
  BOOST_TEST(a["reference"] == ref);
  BOOST_TEST(a["copy"] == 1);
  BOOST_TEST(a["number"] == 1);
  BOOST_TEST(a["status"] == 200);
  BOOST_TEST(a["at"].is_string());
}

BOOST_AUTO_TEST_CASE(transactions_are_paid_and_declined_over_http) {
  sandbox_app app;
  auto paid = app.initialize()["reference"].get<std::string>();
  auto declined = app.initialize()["reference"].get<std::string>();
  auto res = app.call_json("POST", "/_sandbox/transactions/" + paid + "/pay",
                           nullptr, 200);
  BOOST_TEST(res["data"]["status"] == "success");
  res = app.call_json("POST", "/_sandbox/transactions/" + declined + "/decline",
                      nullptr, 200);
  BOOST_TEST(res["data"]["status"] == "failed");
  res = app.call_json("POST", "/_sandbox/transactions/" + paid + "/decline",
                      nullptr, 409);
  BOOST_TEST(res["status"] == false);
  app.call_json("POST", "/_sandbox/transactions/nope/pay", nullptr, 404);
  BOOST_TEST(app.verify(paid)["data"]["status"] == "success");
  BOOST_TEST(app.verify(declined)["data"]["status"] == "failed");
}

BOOST_AUTO_TEST_CASE(transfer_outcome_is_set_over_http) {
  sandbox_app app;
  app.call_json("PUT", "/_sandbox/transfer-outcome", {{"status", "failed"}},
                200);
  auto res = app.call_json("GET", "/_sandbox/stats", nullptr, 200);
  BOOST_TEST(res["data"]["transfer_outcome"] == "failed");
  app.call_json("PUT", "/_sandbox/transfer-outcome", {{"status", "lost"}}, 400);
  app.call_json("PUT", "/_sandbox/transfer-outcome", {{"outcome", "failed"}},
                400);
  BOOST_TEST(app.gw->set_transfer_outcome("lost").code
             == souk::errc::invalid_field);
}

BOOST_AUTO_TEST_SUITE_END()
