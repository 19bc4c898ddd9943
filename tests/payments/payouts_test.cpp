// Payouts end to end over real HTTP: a creator sells through the sandbox
// gateway, registers a payout account (a transfer recipient), asks for
// payouts; the `payout` flow reserves, transfers and settles them, or gives
// the money back on a failed or reversed transfer; lost and duplicated
// webhooks change nothing; bad requests write nothing; and twenty payouts
// asked at once never overdraw the balance.

#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "souk/core/hash.hpp"
#include "souk/persistence/ledger.hpp"

#include "shop.hpp"

using namespace souk::testing;
using nlohmann::json;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

constexpr int64_t net_per_sale = 465'000; // 5,000.00 - 5% - 100.00

shop_options funded() {
  shop_options o;
  o.hold = 0ms; // earnings become available at once
  return o;
}

void register_account(shop& s) {
  auto res = s.as_creator("PUT", "/api/v1/payout-account",
                          json{{"currency", "NGN"},
                               {"name", "Ada Obi"},
                               {"account_number", "0123456789"},
                               {"bank_code", "058"}}
                            .dump());
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto doc = json::parse(res.body);
  BOOST_TEST(doc["recipient_code"].get<std::string>().starts_with("RCP_"));
  BOOST_TEST(doc["account_last4"] == "6789");
  BOOST_TEST(!has(res.body, "0123456789")); // kept by the gateway only
}

void fund(shop& s, int sales) {
  s.sell(sales);
  BOOST_REQUIRE(shop::eventually(
    [&] { return s.balance("available") == sales * net_per_sale; }));
}

http_reply ask(shop& s, int64_t amount, const std::string& key) {
  return s.as_creator("POST", "/api/v1/payouts",
                      json{{"amount", amount}, {"currency", "NGN"}}.dump(),
                      key);
}

// A payout that must be accepted; returns its id.
std::string asked(shop& s, int64_t amount) {
  auto res = ask(s, amount, souk::new_uuid());
  BOOST_REQUIRE_MESSAGE(res.status == 201, res.body);
  return json::parse(res.body)["id"];
}

json payout(shop& s, const std::string& id) {
  auto res = s.as_creator("GET", "/api/v1/payouts/" + id);
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  return json::parse(res.body);
}

bool payout_reaches(shop& s, const std::string& id, const std::string& want) {
  return shop::eventually([&] { return payout(s, id)["status"] == want; }, 20s);
}

void ledger_sound(shop& s) {
  auto report = souk::persistence::ledger_repository{*s.db}.check();
  BOOST_REQUIRE(report);
  for (auto& p : report->problems)
    BOOST_ERROR(p);
}

} // namespace

BOOST_AUTO_TEST_SUITE(payouts)

BOOST_AUTO_TEST_CASE(a_payout_is_transferred_and_settled_once) {
  shop s{funded()};
  fund(s, 1);
  register_account(s);
  auto key = souk::new_uuid();
  auto res = ask(s, 200'000, key);
  BOOST_REQUIRE_MESSAGE(res.status == 201, res.body);
  auto doc = json::parse(res.body);
  std::string id = doc["id"];
  BOOST_TEST(doc["status"] == "requested");
  BOOST_TEST(doc["reference"] == "payout-" + id);
  BOOST_TEST(res.header("location").value_or("") == "/api/v1/payouts/" + id);
  BOOST_REQUIRE(payout_reaches(s, id, "paid"));
  auto done = payout(s, id);
  BOOST_TEST(done["transfer"]["status"] == "success");
  BOOST_TEST(done["transfer"]["code"].get<std::string>().starts_with("TRF_"));
  BOOST_TEST(s.balance("available") == net_per_sale - 200'000);
  BOOST_TEST(s.balance("in_transit") == 0);
  BOOST_TEST(s.balance("paid_out") == 200'000);
  BOOST_TEST(s.gw->stats().transfer_calls == 1u);
  // The same request again is answered as the first time; another request
  // under the same key is refused.
  auto again = ask(s, 200'000, key);
  BOOST_TEST(again.status == 201);
  BOOST_TEST(again.header("idempotent-replayed").value_or("") == "true");
  BOOST_TEST(json::parse(again.body)["id"] == id);
  auto other = ask(s, 150'000, key);
  BOOST_TEST(other.status == 422);
  BOOST_TEST(json::parse(other.body)["code"] == "idempotency_mismatch");
  BOOST_TEST(s.count("SELECT COUNT(*) FROM payouts") == 1);
  // The list shows it, newest first.
  auto list = s.as_creator("GET", "/api/v1/payouts?limit=5");
  BOOST_REQUIRE(list.status == 200);
  auto items = json::parse(list.body)["items"];
  BOOST_REQUIRE(items.size() == 1u);
  BOOST_TEST(items[0]["id"] == id);
  // A payout is not an order.
  auto as_order = http_request(s.port, "GET", "/api/v1/orders/" + id, {},
                               {{"Authorization", "Bearer " + s.op_token}});
  BOOST_TEST(as_order.status == 404);
  ledger_sound(s);
}

BOOST_AUTO_TEST_CASE(bad_requests_write_nothing) {
  shop s{funded()};
  fund(s, 1);
  auto code = [](const http_reply& r) {
    return json::parse(r.body).value("code", std::string{});
  };
  auto field = [](const http_reply& r) {
    return json::parse(r.body).value("field", std::string{});
  };
  // No payout account yet.
  auto res = ask(s, 200'000, souk::new_uuid());
  BOOST_TEST(res.status == 409);
  BOOST_TEST(code(res) == "payout_account_missing");
  register_account(s);
  res = ask(s, 99'999, souk::new_uuid()); // under NGN 1,000.00
  BOOST_TEST(res.status == 422);
  BOOST_TEST(field(res) == "amount");
  BOOST_TEST(has(res.body, "NGN 1000.00"));
  res = ask(s, net_per_sale + 1, souk::new_uuid());
  BOOST_TEST(res.status == 422);
  BOOST_TEST(code(res) == "insufficient_funds");
  res = s.as_creator("POST", "/api/v1/payouts",
                     json{{"amount", 200'000}, {"currency", "GHS"}}.dump(),
                     souk::new_uuid());
  BOOST_TEST(res.status == 422);
  BOOST_TEST(field(res) == "currency");
  res = s.as_creator("POST", "/api/v1/payouts",
                     json{{"amount", "2000"}, {"currency", "NGN"}}.dump(),
                     souk::new_uuid());
  BOOST_TEST(res.status == 422);
  BOOST_TEST(field(res) == "amount");
  res = ask(s, 200'000, ""); // no Idempotency-Key
  BOOST_TEST(res.status == 422);
  BOOST_TEST(field(res) == "Idempotency-Key");
  auto bad_account = s.as_creator("PUT", "/api/v1/payout-account",
                                  json{{"currency", "NGN"},
                                       {"name", "Ada"},
                                       {"account_number", "12ab"},
                                       {"bank_code", "058"}}
                                    .dump());
  BOOST_TEST(bad_account.status == 422);
  BOOST_TEST(field(bad_account) == "account_number");
  BOOST_TEST(s.count("SELECT COUNT(*) FROM payouts") == 0);
  BOOST_TEST(s.count("SELECT COUNT(*) FROM orders WHERE kind = 'payout'") == 0);
  BOOST_TEST(s.balance("available") == net_per_sale);
  // No product can be sold on the payout flow.
  auto product
    = s.as_creator("POST", "/api/v1/products",
                   json{{"title", "Payout"},
                        {"price", {{"amount", 250'000}, {"currency", "NGN"}}},
                        {"flow", "payout"}}
                     .dump());
  BOOST_TEST(product.status == 422);
  BOOST_TEST(field(product) == "flow");
  // Buyers and operators have no payouts.
  auto as_op = http_request(s.port, "GET", "/api/v1/payouts", {},
                            {{"Authorization", "Bearer " + s.op_token}});
  BOOST_TEST(as_op.status == 403);
}

BOOST_AUTO_TEST_CASE(failed_and_reversed_transfers_give_the_money_back) {
  shop s{funded()};
  fund(s, 1);
  register_account(s);
  for (std::string outcome : {"failed", "reversed"}) {
    BOOST_TEST_CONTEXT(outcome) {
      BOOST_REQUIRE(!s.gw->set_transfer_outcome(outcome));
      std::string id = asked(s, 300'000);
      BOOST_REQUIRE(payout_reaches(s, id, "returned"));
      auto done = payout(s, id);
      BOOST_TEST(done["transfer"]["status"] == outcome);
      BOOST_TEST(has(done["reason"].get<std::string>(), outcome));
      BOOST_TEST(s.balance("available") == net_per_sale);
      BOOST_TEST(s.balance("in_transit") == 0);
      BOOST_TEST(s.balance("paid_out") == 0);
    }
  }
  // The statement says why the money came back.
  auto entries = s.as_creator("GET", "/api/v1/wallet/entries?limit=10");
  BOOST_TEST(has(entries.body, "returned: the gateway reports the "
                               "transfer failed"));
  ledger_sound(s);
}

BOOST_AUTO_TEST_CASE(lost_and_duplicated_webhooks_change_nothing) {
  shop_options o = funded();
  o.reconcile_after = 300ms;
  shop s{o};
  fund(s, 1);
  register_account(s);
  // Every transfer webhook lost: reconciliation asks the gateway.
  souk::sandbox::behaviour lost;
  lost.drop = true;
  s.gw->set_behaviour(lost);
  std::string first = asked(s, 100'000);
  BOOST_REQUIRE(payout_reaches(s, first, "paid"));
  BOOST_TEST(s.inbox_rows("payout-" + first) == 0);
  // Five copies of each: the payout is settled once.
  souk::sandbox::behaviour echo;
  echo.copies = 5;
  s.gw->set_behaviour(echo);
  std::string second = asked(s, 100'000);
  BOOST_REQUIRE(payout_reaches(s, second, "paid"));
  BOOST_REQUIRE(shop::eventually([&] { return s.inbox_open() == 0; }));
  BOOST_TEST(s.events(second, "transfer.success") == 1);
  BOOST_TEST(s.balance("paid_out") == 200'000);
  BOOST_TEST(s.balance("available") == net_per_sale - 200'000);
  BOOST_TEST(s.gw->stats().transfer_calls == 2u);
  ledger_sound(s);
}

BOOST_AUTO_TEST_CASE(a_node_that_dies_mid_payout_leaves_nothing_undone) {
  shop_options o = funded();
  o.reconcile_after = 2s;
  shop s{o};
  fund(s, 1);
  register_account(s);
  // No webhooks: the payout waits in transit when its node goes down.
  souk::sandbox::behaviour lost;
  lost.drop = true;
  s.gw->set_behaviour(lost);
  std::string id = asked(s, 100'000);
  BOOST_REQUIRE(payout_reaches(s, id, "in_transit"));
  // Another node on the same database asks the gateway, which paid the
  // transfer meanwhile, and settles it.
  s.restart([](souk::config::settings&) {});
  BOOST_REQUIRE(payout_reaches(s, id, "paid"));
  BOOST_TEST(s.events(id, "transfer.success") == 1);
  BOOST_TEST(s.balance("paid_out") == 100'000);
  BOOST_TEST(s.gw->stats().transfer_calls == 1u);

  // A crash between recording the gateway's word and telling the flow:
  // the payout's row says success, its flow still waits in transit.
  // Reconciliation tells it, once, and stops looking.
  std::string second = asked(s, 100'000);
  BOOST_REQUIRE(payout_reaches(s, second, "in_transit"));
  auto st = s.db->run([&](soci::session& sql) {
    sql << "UPDATE payouts SET transfer_status = 'success', gateway_status = "
           "'success', next_check_at = '2020-01-01T00:00:00.000Z' WHERE id = "
           ":id",
      soci::use(second);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  BOOST_REQUIRE(payout_reaches(s, second, "paid"));
  BOOST_TEST(s.events(second, "transfer.success") == 1);
  BOOST_TEST(s.count("SELECT COUNT(*) FROM payouts WHERE id = '" + second
                     + "' AND next_check_at LIKE '9999%'")
             == 1);
  BOOST_TEST(s.balance("paid_out") == 200'000);
  BOOST_TEST(s.gw->stats().transfer_calls == 2u);
  ledger_sound(s);
}

BOOST_AUTO_TEST_CASE(a_refused_transfer_returns_the_money_with_the_reason) {
  shop s{funded()};
  fund(s, 1);
  register_account(s);
  // The gateway no longer knows the recipient: it refuses the transfer,
  // and its verify then knows no such transfer.
  auto st = s.db->run([&](soci::session& sql) {
    sql << "UPDATE payout_accounts SET recipient_code = 'RCP_gone'";
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  std::string id = asked(s, 100'000);
  BOOST_REQUIRE(payout_reaches(s, id, "returned"));
  auto done = payout(s, id);
  BOOST_TEST(done["transfer"]["status"] == "failed");
  BOOST_TEST(
    has(done["reason"].get<std::string>(), "Recipient specified is invalid"));
  BOOST_TEST(s.balance("available") == net_per_sale);
  ledger_sound(s);
}

BOOST_AUTO_TEST_CASE(the_gateway_contradicting_a_final_word_parks_the_payout) {
  shop s{funded()};
  fund(s, 1);
  register_account(s);
  std::string id = asked(s, 100'000);
  BOOST_REQUIRE(payout_reaches(s, id, "paid"));
  // Say souk had recorded it failed (and given the money back) when the
  // gateway's success arrives: nothing moves, a person is asked.
  auto st = s.db->run([&](soci::session& sql) {
    sql << "UPDATE payouts SET transfer_status = 'failed' WHERE id = :id",
      soci::use(id);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  auto body = json{{"event", "transfer.success"},
                   {"data",
                    {{"id", 987654},
                     {"reference", "payout-" + id},
                     {"status", "success"},
                     {"amount", 100'000},
                     {"currency", "NGN"}}}}
                .dump();
  auto hook = http_request(
    s.port, "POST", "/api/v1/webhooks/paystack", body,
    {{"Content-Type", "application/json"},
     {"x-paystack-signature", souk::hmac_sha512_hex(secret, body)}});
  BOOST_REQUIRE_MESSAGE(hook.status == 200, hook.body);
  BOOST_REQUIRE(payout_reaches(s, id, "needs_attention"));
  BOOST_TEST(
    has(payout(s, id)["reason"].get<std::string>(), "check the gateway"));
  BOOST_TEST(s.balance("paid_out") == 100'000); // nothing moved
  ledger_sound(s);
}

BOOST_AUTO_TEST_CASE(an_unreachable_gateway_stores_no_payout_account) {
  shop s{funded()};
  s.sandbox_server->shutdown(1s); // the gateway is gone
  auto res = s.as_creator("PUT", "/api/v1/payout-account",
                          json{{"currency", "NGN"},
                               {"name", "Ada Obi"},
                               {"account_number", "0123456789"},
                               {"bank_code", "058"}}
                            .dump());
  BOOST_TEST(res.status == 503);
  BOOST_TEST(json::parse(res.body)["code"] == "unavailable");
  BOOST_TEST(res.header("retry-after").has_value());
  BOOST_TEST(s.count("SELECT COUNT(*) FROM payout_accounts") == 0);
}

BOOST_AUTO_TEST_CASE(a_transfer_event_that_is_not_ours_is_set_aside) {
  shop s{funded()};
  auto body = json{{"event", "transfer.success"},
                   {"data",
                    {{"id", 4242},
                     {"reference", "payout-not-one-of-ours-0000"},
                     {"status", "success"},
                     {"amount", 100'000},
                     {"currency", "NGN"}}}}
                .dump();
  auto hook = http_request(
    s.port, "POST", "/api/v1/webhooks/paystack", body,
    {{"Content-Type", "application/json"},
     {"x-paystack-signature", souk::hmac_sha512_hex(secret, body)}});
  BOOST_REQUIRE_MESSAGE(hook.status == 200, hook.body);
  BOOST_REQUIRE(shop::eventually([&] {
    return s.count("SELECT COUNT(*) FROM inbox WHERE reference = "
                   "'payout-not-one-of-ours-0000' AND status = 'ignored' AND "
                   "last_error LIKE 'no payout%'")
           == 1;
  }));
  BOOST_TEST(s.gw->stats().verify_calls == 0u); // nothing asked of the gateway
  BOOST_TEST(s.count("SELECT COUNT(*) FROM payouts") == 0);
}

BOOST_AUTO_TEST_CASE(twenty_payouts_at_once_never_overdraw) {
  shop s{funded()};
  fund(s, 3); // 13,950.00 available
  register_account(s);
  constexpr int asks = 20;
  constexpr int64_t each = 100'000; // 1,000.00: 13 fit, 7 do not
  std::vector<http_reply> answers(asks);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < asks; ++i)
      threads.emplace_back(
        [&, i] { answers[i] = ask(s, each, souk::new_uuid()); });
    for (auto& t : threads)
      t.join();
  }
  std::vector<std::string> ids;
  int refused = 0;
  for (auto& a : answers) {
    if (a.status == 201) {
      ids.push_back(json::parse(a.body)["id"]);
    } else {
      BOOST_TEST(a.status == 422);
      BOOST_TEST(json::parse(a.body)["code"] == "insufficient_funds");
      ++refused;
    }
  }
  auto settled = [&](const json& p) {
    return p["status"] == "paid" || p["status"] == "rejected";
  };
  BOOST_REQUIRE(shop::eventually(
    [&] {
      return std::all_of(ids.begin(), ids.end(),
                         [&](auto& id) { return settled(payout(s, id)); });
    },
    60s));
  int paid = 0;
  for (auto& id : ids) {
    auto p = payout(s, id);
    if (p["status"] == "paid") {
      ++paid;
    } else {
      // Rejected by the reservation: it says why.
      BOOST_TEST(has(p["reason"].get<std::string>(), "available balance"));
    }
  }
  BOOST_TEST(paid == 13);
  BOOST_TEST(static_cast<int>(ids.size()) + refused == asks);
  BOOST_TEST(s.balance("available") == 3 * net_per_sale - 13 * each);
  BOOST_TEST(s.balance("paid_out") == 13 * each);
  BOOST_TEST(s.gw->stats().transfer_calls == 13u);
  ledger_sound(s);
}

BOOST_AUTO_TEST_SUITE_END()
