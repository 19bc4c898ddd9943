// Refunds through the gateway, driven by the order's flow: refund.requested
// → refunding (payment.refund asks the gateway) → refunded when the gateway
// reports refund.processed. Runs on SQLite and PostgreSQL.

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "souk/core/time.hpp"
#include "souk/persistence/ledger.hpp"
#include "souk/persistence/payments.hpp"

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

namespace {

// A refund made in the gateway's dashboard (not through souk).
void refund_in_dashboard(shop& s, const std::string& reference,
                         std::optional<int64_t> amount = {}) {
  json body{{"transaction", reference}};
  if (amount)
    body["amount"] = *amount;
  auto res = http_request(s.sandbox_port, "POST", "/refund", body.dump(),
                          {{"Authorization", std::string{"Bearer "} + secret},
                           {"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(res.status == 200u, res.body);
}

std::vector<souk::persistence::refund_row> refunds_of(shop& s,
                                                      const std::string& id) {
  auto all
    = souk::persistence::payment_repository{*s.db}.refunds_of(s.payment(id).id);
  BOOST_REQUIRE(all);
  return *all;
}

} // namespace

// The buyer got money back in the gateway's dashboard: the order takes it as
// a refund request (the sale reversed as for a refund through souk), asks
// the gateway for nothing, and ends refunded when the refund is reported.
BOOST_AUTO_TEST_CASE(a_partial_refund_made_in_the_gateways_dashboard_is_taken) {
  // Each step through its service's actor: the order is not busy while the
  // sale's reversal runs, so the refund's outcome could overtake it.
  shop_options opts;
  opts.inline_steps = false;
  shop s{opts};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  // On PostgreSQL the ledger's account rows are held for a while, so the
  // sale's reversal waits and the webhook is retried meanwhile: its
  // outcome must wait for the order's steps, or the order would end
  // refunded with its steps cut short (in the shipped flow, the sale's
  // reversal comes after revoking access, and would never run).
  std::thread holder;
  std::atomic<bool> held{false};
  if (souk::testing::backend_name() == "postgresql")
    holder = std::thread{[&] {
      auto st = s.db->transact([&](soci::session& sql) -> souk::status {
        sql << "SELECT id FROM ledger_accounts ORDER BY id FOR UPDATE";
        held = true;
        std::this_thread::sleep_for(1500ms);
        return {};
      });
      BOOST_TEST(!st, st.detail);
    }};
  BOOST_REQUIRE(shop::eventually(
    [&] { return held || souk::testing::backend_name() != "postgresql"; }));
  refund_in_dashboard(s, s.payment(id).reference, 200000);
  BOOST_REQUIRE(s.reaches(id, "refunded"));
  if (holder.joinable())
    holder.join();
  // The steps were done before the refund's outcome reached the order.
  BOOST_TEST(s.ever_in(id, "refund_pending"));
  BOOST_TEST(s.gw->stats().refund_calls == 1u); // the dashboard's only
  auto snap = s.snapshot(id);
  auto asked
    = std::find_if(snap.events.begin(), snap.events.end(),
                   [](auto& e) { return e.event == "refund.requested"; });
  BOOST_REQUIRE(asked != snap.events.end());
  BOOST_TEST(asked->actor == "gateway:paystack");
  BOOST_TEST(json::parse(asked->detail)["amount"] == 200000);
  BOOST_TEST(s.events(id, "refund.processed") == 1);
  auto refunds = refunds_of(s, id);
  BOOST_REQUIRE(refunds.size() == 1u);
  BOOST_TEST(refunds[0].amount == 200000);
  BOOST_TEST(refunds[0].status == "processed");
  BOOST_TEST(refunds[0].idempotency_key == "gateway:" + refunds[0].gateway_id);
  BOOST_TEST(json::parse(asked->detail)["outside_refund"] == refunds[0].id);

  // The wallet gave back 2/5 of the creator's net and of the fee, as for a
  // refund through souk.
  souk::persistence::ledger_repository ledger{*s.db};
  auto creator_pending = ledger.account(
    souk::persistence::creator_account(s.creator_id, "NGN", "pending"));
  BOOST_REQUIRE(creator_pending && *creator_pending);
  BOOST_TEST((*creator_pending)->balance == 465'000 - 186'000);
  auto report = ledger.check();
  BOOST_REQUIRE(report);
  BOOST_TEST(report->problems.empty());
  BOOST_TEST(s.inbox_open() == 0);
}

// The node dies after the refund's outcome reached the order but before its
// webhook was marked processed: the webhook is worked on again, and the
// order, already refunded, takes nothing twice.
BOOST_AUTO_TEST_CASE(a_dashboard_refund_worked_on_again_changes_nothing) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  refund_in_dashboard(s, s.payment(id).reference, 200000);
  BOOST_REQUIRE(s.reaches(id, "refunded"));
  BOOST_REQUIRE(s.eventually([&] { return s.inbox_open() == 0; }));
  auto pending = s.balance("pending");
  auto events = s.snapshot(id).events.size();
  // As the lease of a dead node's row runs out: due again, unclaimed.
  auto past = souk::to_iso(souk::now() - 1s);
  auto err = s.db->run([&](soci::session& sql) {
    sql << "UPDATE inbox SET status = 'received', claimed_until = NULL, "
           "processed_at = NULL, next_attempt_at = :t WHERE event = "
           "'refund.processed'",
      soci::use(past);
  });
  BOOST_REQUIRE_MESSAGE(!err, err.detail);
  BOOST_REQUIRE(s.eventually([&] {
    return s.count("SELECT COUNT(*) FROM inbox WHERE event = "
                   "'refund.processed' AND status = 'processed'")
           == 1;
  }));
  BOOST_TEST(s.state(id) == "refunded");
  BOOST_TEST(s.snapshot(id).events.size() == events);
  BOOST_TEST(s.events(id, "refund.requested") == 1);
  BOOST_TEST(s.events(id, "refund.processed") == 1);
  BOOST_TEST(refunds_of(s, id).size() == 1u);
  BOOST_TEST(s.balance("pending") == pending);
  BOOST_TEST(s.gw->stats().refund_calls == 1u);
}

// An order that takes no refund in its state (refunded already, in part,
// through souk): the dashboard's refund of the rest is recorded with the
// payment, the order is left as it is, and the refund's webhook, however
// often it comes, does not move it.
BOOST_AUTO_TEST_CASE(a_dashboard_refund_an_order_cannot_take_is_recorded_only) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  auto res = http_request(s.port, "POST", "/api/v1/orders/" + id + "/refund",
                          json{{"amount", 200000}}.dump(),
                          {{"Authorization", "Bearer " + s.op_token},
                           {"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(res.status == 202u, res.body);
  BOOST_REQUIRE(s.reaches(id, "refunded"));
  auto events = s.snapshot(id).events.size();
  auto pending = s.balance("pending");

  refund_in_dashboard(s, s.payment(id).reference); // the rest: 300000
  BOOST_REQUIRE(s.eventually(
    [&] { return refunds_of(s, id).size() == 2u && s.inbox_open() == 0; }));
  auto refunds = refunds_of(s, id);
  auto outside = std::find_if(refunds.begin(), refunds.end(), [](auto& r) {
    return r.idempotency_key.starts_with("gateway:");
  });
  BOOST_REQUIRE(outside != refunds.end());
  BOOST_TEST(outside->amount == 300000);
  BOOST_TEST(outside->status == "processed");
  BOOST_TEST(s.state(id) == "refunded");
  // Recorded as ignored (a refund.requested its state refused), nothing
  // else: no second refund.processed, the creator's share unchanged.
  auto snap = s.snapshot(id);
  BOOST_TEST(snap.events.size() == events + 1);
  BOOST_TEST(snap.events.back().event == "refund.requested");
  BOOST_TEST(snap.events.back().from_state == snap.events.back().to_state);
  BOOST_TEST(s.events(id, "refund.processed") == 1);
  BOOST_TEST(s.balance("pending") == pending);
  BOOST_TEST(s.count("SELECT COUNT(*) FROM inbox WHERE status = 'ignored' AND "
                     "event = 'refund.processed'")
             == 1);
  // Souk would refund nothing more: the payment is refunded whole.
  auto more = http_request(s.port, "POST", "/api/v1/orders/" + id + "/refund",
                           {}, {{"Authorization", "Bearer " + s.op_token}});
  BOOST_TEST(more.status == 409u);
  BOOST_TEST(s.gw->stats().refund_calls == 2u);
}

// The dashboard's refund comes before souk has settled the payment (the
// gateway's verify failing at first, so the charge's own webhook is
// retried): the refund waits for the sale, then reverses its share.
BOOST_AUTO_TEST_CASE(a_dashboard_refund_before_the_payment_is_settled_waits) {
  shop_options opts;
  opts.misbehave.verify_errors = 4; // about two seconds of retries
  shop s{opts};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  refund_in_dashboard(s, s.payment(id).reference, 200000);
  BOOST_REQUIRE(s.eventually([&] {
    return s.count("SELECT COUNT(*) FROM inbox WHERE event = "
                   "'refund.processed' AND attempts >= 1")
           == 1;
  }));
  BOOST_TEST(s.state(id) == "pending"); // the refund came first
  BOOST_REQUIRE(s.reaches(id, "refunded"));
  BOOST_TEST(s.ever_in(id, "delivered"));
  BOOST_TEST(s.gw->stats().refund_calls == 1u); // the dashboard's only
  auto refunds = refunds_of(s, id);
  BOOST_REQUIRE(refunds.size() == 1u);
  BOOST_TEST(refunds[0].amount == 200000);
  souk::persistence::ledger_repository ledger{*s.db};
  auto creator_pending = ledger.account(
    souk::persistence::creator_account(s.creator_id, "NGN", "pending"));
  BOOST_REQUIRE(creator_pending && *creator_pending);
  BOOST_TEST((*creator_pending)->balance == 465'000 - 186'000);
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
