// Refunds through the gateway, driven by the order's flow: refund.requested
// → refunding (payment.refund asks the gateway) → refunded when the gateway
// reports refund.processed. Runs on SQLite and PostgreSQL.

#include "souk/persistence/ledger.hpp"

#include "shop.hpp"

using namespace souk::testing;

BOOST_AUTO_TEST_SUITE(refund)

BOOST_AUTO_TEST_CASE(partial_refund_through_the_gateway) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));

  auto ask = [&](const std::string& body) {
    return http_request(s.port, "POST", "/api/v1/orders/" + id + "/refund",
                        body,
                        {{"Authorization", "Bearer " + s.op_token},
                         {"Content-Type", "application/json"}});
  };
  auto too_much = ask(json{{"amount", 600000}}.dump());
  BOOST_TEST(too_much.status == 422u);
  BOOST_TEST(json::parse(too_much.body)["field"] == "amount");

  auto res = ask(json{{"amount", 200000}, {"reason", "changed mind"}}.dump());
  BOOST_REQUIRE_MESSAGE(res.status == 202u, res.body);
  // A double click: refused, and it leaves nothing behind (it must not turn
  // the partial refund into a full one either).
  auto twice = ask("");
  BOOST_TEST(twice.status == 409u);
  BOOST_REQUIRE(s.reaches(id, "refunded"));
  BOOST_TEST(s.events(id, "refund.requested") == 1);
  BOOST_TEST(s.gw->stats().refund_calls == 1u);
  BOOST_TEST(s.events(id, "refund.processed") == 1);
  auto refunds
    = souk::persistence::payment_repository{*s.db}.refunds_of(s.payment(id).id);
  BOOST_REQUIRE(refunds);
  BOOST_REQUIRE(refunds->size() == 1u);
  BOOST_TEST((*refunds)[0].amount == 200000);
  BOOST_TEST((*refunds)[0].status == "processed");
  BOOST_TEST(!(*refunds)[0].gateway_id.empty());

  // The wallet gave back 2/5 of the creator's net and of the fee.
  souk::persistence::ledger_repository ledger{*s.db};
  auto creator_pending = ledger.account(
    souk::persistence::creator_account(s.creator_id, "NGN", "pending"));
  BOOST_REQUIRE(creator_pending && *creator_pending);
  BOOST_TEST((*creator_pending)->balance == 465'000 - 186'000);
  auto fees
    = ledger.account(souk::persistence::platform_account("NGN", "fees"));
  BOOST_TEST((*fees)->balance == 35'000 - 14'000);
  auto report = ledger.check();
  BOOST_REQUIRE(report);
  BOOST_TEST(report->problems.empty());

  // A refunded order takes no second refund.
  auto again = ask("");
  BOOST_TEST(again.status == 409u);
  BOOST_TEST(s.gw->stats().refund_calls == 1u);
}

BOOST_AUTO_TEST_CASE(an_operator_refunds_through_the_admin_route) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  auto res = http_request(s.port, "POST", "/admin/orders/" + id + "/refund",
                          json{{"reason", "duplicate purchase"}}.dump(),
                          {{"Authorization", "Bearer " + s.op_token},
                           {"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(res.status == 202u, res.body);
  BOOST_REQUIRE(s.reaches(id, "refunded"));
  // Through the flow: the request is in the timeline with who asked.
  auto snap = s.snapshot(id);
  auto asked
    = std::find_if(snap.events.begin(), snap.events.end(),
                   [](auto& e) { return e.event == "refund.requested"; });
  BOOST_REQUIRE(asked != snap.events.end());
  BOOST_TEST(asked->actor.starts_with("operator:"));
  BOOST_TEST(json::parse(asked->detail)["reason"] == "duplicate purchase");
  BOOST_TEST(s.gw->stats().refund_calls == 1u);
  // The creator's customer-facing route cannot reach the admin one.
  auto as_creator
    = http_request(s.port, "POST", "/admin/orders/" + id + "/refund", {},
                   {{"Authorization", "Bearer " + s.creator_token}});
  BOOST_TEST(as_creator.status == 403u);
}

BOOST_AUTO_TEST_CASE(an_unpaid_order_cannot_be_refunded) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  auto res = http_request(s.port, "POST", "/api/v1/orders/" + id + "/refund",
                          {}, {{"Authorization", "Bearer " + s.op_token}});
  BOOST_TEST(res.status == 409u);
  BOOST_TEST(s.state(id) == "pending");
  BOOST_TEST(s.gw->stats().refund_calls == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
