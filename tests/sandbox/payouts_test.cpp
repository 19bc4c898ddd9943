// Money going back out: refunds of charges, transfer recipients and
// transfers from the sandbox balance.

#include "fixture.hpp"

using namespace souk::testing;

namespace {

json recipient_body(const std::string& account = "0123456789") {
  return {{"type", "nuban"},
          {"name", "Ada Creator"},
          {"account_number", account},
          {"bank_code", "058"},
          {"currency", "NGN"}};
}

std::string new_recipient(const sandbox_app& app,
                          const std::string& account = "0123456789") {
  auto res
    = app.call_json("POST", "/transferrecipient", recipient_body(account), 201);
  return res["data"]["recipient_code"].get<std::string>();
}

json transfer_body(const std::string& recipient, const std::string& reference,
                   int64_t amount = 100000) {
  return {{"source", "balance"},
          {"amount", amount},
          {"recipient", recipient},
          {"reference", reference},
          {"reason", "souk payout"}};
}

/// Waits for the webhook `event` about `reference` (data.reference or
/// data.transaction_reference).
webhook wait_event(sandbox_app& app, const std::string& event,
                   const std::string& reference) {
  std::optional<webhook> found;
  auto ok = eventually([&] {
    for (auto& w : of_event(app.hooks.received(), event)) {
      auto& d = w.data();
      if (d.value("reference", "") == reference
          || d.value("transaction_reference", "") == reference) {
        found = w;
        return true;
      }
    }
    return false;
  });
  BOOST_REQUIRE_MESSAGE(ok, "no " << event << " for " << reference);
  return *found;
}

} // namespace

BOOST_AUTO_TEST_SUITE(refunds)

BOOST_AUTO_TEST_CASE(a_full_refund_is_processed_and_reverses_the_charge) {
  sandbox_app app;
  auto ref = app.paid();
  auto res = app.call_json("POST", "/refund",
                           {{"transaction", ref},
                            {"merchant_note", "bad file"},
                            {"customer_note", "sorry"}},
                           200);
  BOOST_TEST(res["status"] == true);
  BOOST_TEST(res["message"] == "Refund has been queued for processing");
  auto& data = res["data"];
  BOOST_TEST(data["status"] == "pending");
  BOOST_TEST(data["amount"] == 500000);
  BOOST_TEST(data["currency"] == "NGN");
  BOOST_TEST(data["domain"] == "test");
  BOOST_TEST(data["transaction"]["reference"] == ref);
  BOOST_TEST(data["merchant_note"] == "bad file");
  BOOST_TEST(data["customer_note"] == "sorry");
  BOOST_TEST(data["id"].is_number_unsigned());
  BOOST_TEST(data["fully_deducted"] == true);
  BOOST_TEST(data["deducted_amount"] == 0);

  auto hook = wait_event(app, "refund.processed", ref);
  BOOST_TEST(hook.signature == souk::hmac_sha512_hex(secret, hook.body));
  auto& processed = hook.data();
  BOOST_TEST(processed["status"] == "processed");
  BOOST_TEST(processed["id"] == data["id"]);
  BOOST_TEST(processed["amount"] == 500000);
  BOOST_TEST(processed["currency"] == "NGN");
  BOOST_TEST(processed["refund_reference"].is_null());
  BOOST_TEST(processed["customer"]["email"] == "buyer@example.com");
  BOOST_TEST(processed["domain"] == "test");
  BOOST_TEST(processed["merchant_note"] == "bad file");
  BOOST_TEST(app.verify(ref)["data"]["status"] == "reversed");
  // Nothing is left to refund.
  res = app.call_json("POST", "/refund", {{"transaction", ref}}, 400);
  BOOST_TEST(res["status"] == false);
  BOOST_TEST(app.gw->stats().refund_calls == 2u);
}

BOOST_AUTO_TEST_CASE(partial_refunds_add_up_and_may_not_exceed_the_charge) {
  sandbox_app app;
  auto ref = app.paid();
  auto res = app.call_json("POST", "/refund",
                           {{"transaction", ref}, {"amount", "200000"}}, 200);
  BOOST_TEST(res["data"]["amount"] == 200000);
  wait_event(app, "refund.processed", ref);
  BOOST_TEST(app.verify(ref)["data"]["status"] == "success");
  // More than the charge, or than what is left, is refused.
  res = app.call_json("POST", "/refund",
                      {{"transaction", ref}, {"amount", 600000}}, 400);
  BOOST_TEST(res["message"]
             == "Refund amount cannot be more than the transaction amount");
  res = app.call_json("POST", "/refund",
                      {{"transaction", ref}, {"amount", 300001}}, 400);
  BOOST_TEST(res["message"].get<std::string>().find("300000")
             != std::string::npos);
  // By transaction id, the rest by default.
  auto id = app.verify(ref)["data"]["id"];
  res = app.call_json("POST", "/refund", {{"transaction", id}}, 200);
  BOOST_TEST(res["data"]["amount"] == 300000);
  BOOST_REQUIRE(eventually([&] {
    return of_event(app.hooks.received(), "refund.processed").size() == 2;
  }));
  BOOST_TEST(app.verify(ref)["data"]["status"] == "reversed");
}

BOOST_AUTO_TEST_CASE(only_paid_transactions_are_refunded) {
  sandbox_app app;
  auto unpaid = app.initialize()["reference"].get<std::string>();
  auto declined = app.initialize()["reference"].get<std::string>();
  BOOST_REQUIRE(!app.gw->decline(declined));
  for (auto& ref : {unpaid, declined}) {
    auto res = app.call_json("POST", "/refund", {{"transaction", ref}}, 400);
    BOOST_TEST(res["message"].get<std::string>().find("not been completed")
               != std::string::npos);
  }
  auto res = app.call_json("POST", "/refund", {{"transaction", "nope"}}, 400);
  BOOST_TEST(res["message"] == "Transaction not found");
  auto paid = app.paid();
  for (auto bad : {json::object(), json{{"transaction", true}},
                   json{{"transaction", paid}, {"amount", 0}},
                   json{{"transaction", paid}, {"amount", -1}},
                   json{{"transaction", paid}, {"currency", "USD"}},
                   json{{"transaction", paid}, {"merchant_note", 5}}}) {
    res = app.call_json("POST", "/refund", bad, 400);
    BOOST_TEST(res["status"] == false);
  }
  // None of that touched the paid one.
  BOOST_TEST(app.verify(paid)["data"]["status"] == "success");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transfers)

BOOST_AUTO_TEST_CASE(recipients_are_created_once_per_account) {
  sandbox_app app;
  auto res = app.call_json("POST", "/transferrecipient", recipient_body(), 201);
  BOOST_TEST(res["status"] == true);
  BOOST_TEST(res["message"] == "Transfer recipient created successfully");
  auto& data = res["data"];
  auto code = data["recipient_code"].get<std::string>();
  BOOST_TEST(code.rfind("RCP_", 0) == 0u);
  BOOST_TEST(data["active"] == true);
  BOOST_TEST(data["type"] == "nuban");
  BOOST_TEST(data["currency"] == "NGN");
  BOOST_TEST(data["name"] == "Ada Creator");
  BOOST_TEST(data["details"]["account_number"] == "0123456789");
  BOOST_TEST(data["details"]["bank_code"] == "058");
  BOOST_TEST(data["id"].is_number_unsigned());
  // The same account again: the same recipient, 200.
  auto again
    = app.call_json("POST", "/transferrecipient", recipient_body(), 200);
  BOOST_TEST(again["data"]["recipient_code"] == code);
  BOOST_TEST(again["data"]["id"] == data["id"]);
  BOOST_TEST(new_recipient(app, "9876543210") != code);
}

BOOST_AUTO_TEST_CASE(recipients_refuse_bad_input) {
  sandbox_app app;
  auto refused = [&](const char* field, json value) {
    auto body = recipient_body();
    if (value.is_null())
      body.erase(field);
    else
      body[field] = std::move(value);
    auto res = app.call_json("POST", "/transferrecipient", body, 400);
    BOOST_TEST_CONTEXT(body.dump() << " -> " << res.dump()) {
      BOOST_TEST(res["status"] == false);
      BOOST_TEST(res.value("message", "").find(field) != std::string::npos);
    }
  };
  for (auto field : {"type", "name", "account_number", "bank_code", "currency"})
    refused(field, nullptr);
  refused("type", "paypal");
  refused("account_number", "01234x");
  refused("account_number", 123);
  refused("currency", "EUR");
}

BOOST_AUTO_TEST_CASE(a_transfer_succeeds_and_sends_transfer_success) {
  sandbox_app app;
  auto rcp = new_recipient(app);
  auto ref = std::string{"souk-payout-0001_abc"};
  auto res = app.call_json("POST", "/transfer", transfer_body(rcp, ref), 200);
  BOOST_TEST(res["status"] == true);
  BOOST_TEST(res["message"] == "Transfer has been queued");
  auto& data = res["data"];
  BOOST_TEST(data["status"] == "pending");
  BOOST_TEST(data["reference"] == ref);
  BOOST_TEST(data["amount"] == 100000);
  BOOST_TEST(data["currency"] == "NGN");
  BOOST_TEST(data["source"] == "balance");
  BOOST_TEST(data["reason"] == "souk payout");
  BOOST_TEST(data["domain"] == "test");
  BOOST_TEST(data["recipient"].is_number_unsigned());
  BOOST_TEST(data["transfer_code"].get<std::string>().rfind("TRF_", 0) == 0u);

  auto hook = wait_event(app, "transfer.success", ref);
  BOOST_TEST(hook.signature == souk::hmac_sha512_hex(secret, hook.body));
  BOOST_TEST(hook.data()["status"] == "success");
  BOOST_TEST(hook.data()["transfer_code"] == data["transfer_code"]);
  BOOST_TEST(hook.data()["id"] == data["id"]);
  BOOST_TEST(hook.data()["recipient"]["recipient_code"] == rcp);
  BOOST_TEST(hook.data()["recipient"]["name"] == "Ada Creator");
  auto verified = app.call_json("GET", "/transfer/verify/" + ref, nullptr, 200);
  BOOST_TEST(verified["data"]["status"] == "success");
  BOOST_TEST(verified["data"]["transfer_code"] == data["transfer_code"]);
  BOOST_TEST(app.gw->stats().transfer_calls == 1u);
}

BOOST_AUTO_TEST_CASE(transfers_finish_as_the_outcome_set_when_queued) {
  auto o = test_options();
  o.balance = 150000;
  sandbox_app app{o};
  auto rcp = new_recipient(app);
  for (auto outcome : {"failed", "reversed"}) {
    BOOST_REQUIRE(!app.gw->set_transfer_outcome(outcome));
    auto ref = std::string{"payout-"} + outcome + "-0000000001";
    app.call_json("POST", "/transfer", transfer_body(rcp, ref), 200);
    auto hook = wait_event(app, std::string{"transfer."} + outcome, ref);
    BOOST_TEST(hook.data()["status"] == outcome);
    auto verified
      = app.call_json("GET", "/transfer/verify/" + ref, nullptr, 200);
    BOOST_TEST(verified["data"]["status"] == outcome);
  }
  // Failed and reversed transfers gave the money back: 100000 of 150000
  // is still there.
  BOOST_REQUIRE(!app.gw->set_transfer_outcome("success"));
  app.call_json("POST", "/transfer",
                transfer_body(rcp, "payout-after-failures-1"), 200);
}

BOOST_AUTO_TEST_CASE(the_same_reference_twice_is_a_safe_retry) {
  auto o = test_options();
  o.balance = 150000; // room for one transfer of 100000, not two
  sandbox_app app{o};
  auto rcp = new_recipient(app);
  auto ref = std::string{"payout-retry-000001"};
  auto first = app.call_json("POST", "/transfer", transfer_body(rcp, ref), 200);
  auto again = app.call_json("POST", "/transfer", transfer_body(rcp, ref), 200);
  BOOST_TEST(again["status"] == true);
  BOOST_TEST(again["data"]["transfer_code"] == first["data"]["transfer_code"]);
  BOOST_TEST(again["data"]["id"] == first["data"]["id"]);
  wait_event(app, "transfer.success", ref);
  // After it finished, a retry reports the outcome.
  again = app.call_json("POST", "/transfer", transfer_body(rcp, ref), 200);
  BOOST_TEST(again["data"]["status"] == "success");
  BOOST_TEST(again["data"]["transfer_code"] == first["data"]["transfer_code"]);
  // Other terms under the same reference are refused.
  auto res
    = app.call_json("POST", "/transfer", transfer_body(rcp, ref, 100001), 400);
  BOOST_TEST(
    res
    == (json{{"status", false}, {"message", "Duplicate Transfer Reference"}}));
  // Only one transfer.success was ever sent.
  auto hooks = of_event(app.hooks.received(), "transfer.success");
  BOOST_TEST(hooks.size() == 1u);
}

BOOST_AUTO_TEST_CASE(transfers_beyond_the_balance_are_refused) {
  auto o = test_options();
  o.balance = 150000;
  sandbox_app app{o};
  auto rcp = new_recipient(app);
  app.call_json("POST", "/transfer", transfer_body(rcp, "payout-balance-01"),
                200);
  auto res = app.call_json("POST", "/transfer",
                           transfer_body(rcp, "payout-balance-02"), 400);
  BOOST_TEST(res
             == (json{{"status", false},
                      {"message", "Your balance is not enough to "
                                  "fulfill this request"}}));
  app.call_json("GET", "/transfer/verify/payout-balance-02", nullptr, 400);
}

BOOST_AUTO_TEST_CASE(transfers_refuse_bad_input) {
  sandbox_app app;
  auto rcp = new_recipient(app);
  auto refused = [&](json body, const std::string& word) {
    auto res = app.call_json("POST", "/transfer", body, 400);
    BOOST_TEST_CONTEXT(body.dump() << " -> " << res.dump()) {
      BOOST_TEST(res["status"] == false);
      BOOST_TEST(res.value("message", "").find(word) != std::string::npos);
    }
  };
  std::vector<std::string> bad_references{
    "short-ref",           "Upper-Case-Reference-1",
    "has space in it 123", "dots.are.not.allowed.here",
    std::string(51, 'a'),  ""};
  for (auto& bad : bad_references)
    refused(transfer_body(rcp, bad), "reference");
  auto no_ref = transfer_body(rcp, "x");
  no_ref.erase("reference");
  refused(no_ref, "reference");
  refused(transfer_body("RCP_nope", "payout-unknown-rcp-1"), "Recipient");
  auto body = transfer_body(rcp, "payout-bad-source-01");
  body["source"] = "card";
  refused(body, "source");
  refused(transfer_body(rcp, "payout-bad-amount-01", 0), "amount");
  body = transfer_body(rcp, "payout-bad-currency-1");
  body["currency"] = "USD";
  refused(body, "currency");
  auto res
    = app.call_json("GET", "/transfer/verify/payout-nope-000001", nullptr, 400);
  BOOST_TEST(res
             == (json{{"status", false}, {"message", "Transfer not found"}}));
  // Refused calls count too.
  BOOST_TEST(app.gw->stats().transfer_calls == 11u);
}

BOOST_AUTO_TEST_SUITE_END()
