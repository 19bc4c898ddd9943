// A purchase over real HTTP, from checkout to the order moving on: through
// the webhook, through reconciliation when the webhook never comes, with
// webhooks duplicated and out of order, with the gateway's verify failing
// for a while, and with a gateway that reports another amount than was
// charged. Runs on SQLite and PostgreSQL (--backend).

#include <algorithm>
#include <thread>

#include "souk/actors/engine.hpp"
#include "souk/core/hash.hpp"
#include "souk/core/time.hpp"
#include "souk/metrics/registry.hpp"
#include "souk/payments/gateway.hpp"
#include "souk/payments/service.hpp"

#include "shop.hpp"

using namespace souk::testing;

BOOST_AUTO_TEST_SUITE(settle)

BOOST_AUTO_TEST_CASE(webhook_completes_a_purchase) {
  shop s;
  auto o = s.checkout();
  std::string id = o["order"]["id"];
  std::string ref = o["payment"]["reference"];
  BOOST_TEST(o["order"]["state"] == "pending");
  BOOST_TEST(o["order"]["price"]["amount"] == 500000);
  BOOST_TEST(s.state(id) == "pending");
  BOOST_TEST(s.payment(id).status == "initialized");

  auto paid = s.press(o, "pay");
  BOOST_TEST(paid.status == 303u);
  BOOST_TEST(paid.header("location").value_or("").find("reference=" + ref)
             != std::string::npos);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  auto p = s.payment(id);
  BOOST_TEST(p.status == "succeeded");
  BOOST_TEST(p.settled_by == "webhook");
  BOOST_TEST(p.gateway_status == "success");
  BOOST_TEST(!p.gateway_id.empty());
  BOOST_TEST(s.events(id, "payment.succeeded") == 1);
  BOOST_TEST(s.fx->of(id) == 1);
  BOOST_TEST(s.inbox_rows(ref) == 1);
  // The webhook's row is processed and reconciliation stops looking at the
  // payment: both written once the order took the payment (one write).
  BOOST_TEST(shop::eventually([&] {
    return s.count("SELECT COUNT(*) FROM inbox WHERE reference = '" + ref
                   + "' AND status = 'processed' AND processed_at IS NOT "
                     "NULL AND claimed_until IS NULL")
             == 1
           && s.payment(id).next_check_at
                == souk::persistence::payment_repository::no_more_checks;
  }));
  BOOST_TEST(s.inbox_open() == 0);
  // Paid means verified: the gateway was asked before the order moved.
  BOOST_TEST(s.gw->verify_calls(ref) >= 1u);

  // The sale is in the creator's wallet: the net pending, one entry.
  auto wallet = http_request(s.port, "GET", "/api/v1/wallet", {},
                             {{"Authorization", "Bearer " + s.creator_token}});
  BOOST_REQUIRE_MESSAGE(wallet.status == 200, wallet.body);
  auto balances = json::parse(wallet.body)["items"];
  BOOST_REQUIRE(balances.size() == 1u);
  BOOST_TEST(balances[0]["currency"] == "NGN");
  BOOST_TEST(balances[0]["pending"] == 465000);
  BOOST_TEST(balances[0]["available"] == 0);
  auto statement
    = http_request(s.port, "GET", "/api/v1/wallet/entries?limit=10", {},
                   {{"Authorization", "Bearer " + s.creator_token}});
  BOOST_REQUIRE_MESSAGE(statement.status == 200, statement.body);
  auto lines = json::parse(statement.body);
  BOOST_REQUIRE(lines["items"].size() == 1u);
  BOOST_TEST(lines["items"][0]["to"] == "pending");
  BOOST_TEST(lines["items"][0]["from"].is_null());
  BOOST_TEST(lines["items"][0]["cause"]["id"] == id);
  BOOST_TEST(lines["next_cursor"].is_null());

  // The operator sees the timeline through the API.
  auto res = http_request(s.port, "GET", "/api/v1/orders/" + id, {},
                          {{"Authorization", "Bearer " + s.op_token}});
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
  auto doc = json::parse(res.body);
  BOOST_TEST(doc["state"] == "delivered");
  BOOST_TEST(doc["payment"]["status"] == "succeeded");
  std::vector<std::string> path;
  for (auto& e : doc["timeline"])
    path.push_back(e["to"]);
  BOOST_REQUIRE(!path.empty());
  BOOST_TEST(path.front() == "pending");
  BOOST_TEST(std::count(path.begin(), path.end(), "paid") >= 1);
  BOOST_TEST(path.back() == "delivered");
}

BOOST_AUTO_TEST_CASE(reconciliation_completes_when_the_webhook_is_dropped) {
  shop_options o;
  o.misbehave.drop = true;
  o.reconcile_after = 500ms;
  shop s{o};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  BOOST_TEST(s.gw->stats().webhooks_dropped >= 1u);
  BOOST_TEST(s.gw->stats().webhooks_delivered == 0u);
  auto p = s.payment(id);
  BOOST_TEST(p.status == "succeeded");
  BOOST_TEST(p.settled_by == "reconciliation");
  BOOST_TEST(s.inbox_rows(ref) == 0);
  BOOST_TEST(s.events(id, "payment.succeeded") == 1);
  BOOST_TEST(s.fx->of(id) == 1);
}

BOOST_AUTO_TEST_CASE(five_copies_out_of_order_pay_each_order_once) {
  shop_options o;
  o.misbehave.copies = 5;
  o.misbehave.reorder = true;
  o.misbehave.reorder_window = 300ms;
  shop s{o};
  auto first = s.checkout();
  auto second = s.checkout();
  BOOST_REQUIRE(s.press(first, "pay").status == 303u);
  BOOST_REQUIRE(s.press(second, "pay").status == 303u);
  for (auto* order : {&first, &second}) {
    std::string id = (*order)["order"]["id"];
    BOOST_REQUIRE(s.reaches(id, "delivered"));
  }
  // Every copy arrives (and is acknowledged)...
  BOOST_REQUIRE(
    shop::eventually([&] { return s.gw->stats().webhooks_delivered == 10u; }));
  // ...newest first: the second order's event came before the first's.
  auto attempts = s.gw->attempts();
  BOOST_REQUIRE(!attempts.empty());
  BOOST_TEST(attempts.front().reference == second["payment"]["reference"]);
  BOOST_REQUIRE(shop::eventually([&] { return s.inbox_open() == 0; }));
  for (auto* order : {&first, &second}) {
    std::string id = (*order)["order"]["id"];
    std::string ref = (*order)["payment"]["reference"];
    BOOST_TEST(s.inbox_rows(ref) == 1); // the rest were duplicates
    BOOST_TEST(s.events(id, "payment.succeeded") == 1);
    BOOST_TEST(s.fx->of(id) == 1);
    BOOST_TEST(s.state(id) == "delivered");
  }
  // The operator's metrics count the same, and a forged webhook apart.
  auto forged = http_request(
    s.port, "POST", "/api/v1/webhooks/paystack",
    R"({"event":"charge.success","data":{"reference":"x"}})",
    {{"Content-Type", "application/json"}, {"x-paystack-signature", "00"}});
  BOOST_TEST(forged.status == 401u);
  auto m = http_request(s.port, "GET", "/metrics", {},
                        {{"Authorization", "Bearer " + s.op_token}});
  BOOST_REQUIRE(m.status == 200u);
  auto webhooks = [&](const std::string& result) {
    return souk::metrics::sum_of(m.body, "souk_webhooks_total",
                                 {{"gateway", "paystack"}, {"result", result}})
      .value_or(0);
  };
  BOOST_TEST(webhooks("accepted") == 2);
  BOOST_TEST(webhooks("duplicate") == 8);
  BOOST_TEST(webhooks("rejected") == 1);
}

BOOST_AUTO_TEST_CASE(an_amount_mismatch_never_reaches_paid) {
  shop_options o;
  o.misbehave.amount_delta = -100; // the gateway says 100 kobo less
  shop s{o};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "needs_attention"));
  auto snap = s.snapshot(id);
  BOOST_TEST(snap.order.parked_from == "pending");
  BOOST_TEST(snap.order.last_error.find("499900") != std::string::npos,
             snap.order.last_error);
  BOOST_TEST(!s.ever_in(id, "paid"));
  BOOST_TEST(s.events(id, "payment.succeeded") == 0);
  BOOST_TEST(s.fx->of(id) == 0);
  auto p = s.payment(id);
  BOOST_TEST(p.status == "mismatch");
  auto evidence = json::parse(p.evidence);
  BOOST_TEST(evidence["expected"]["amount"] == 500000);
  BOOST_TEST(evidence["reported"]["amount"] == 499900);
  BOOST_TEST(evidence["verify"]["reference"] == ref);
  // The buyer coming back later changes nothing.
  auto back = s.come_back(ref);
  BOOST_TEST(back.status == 200u);
  BOOST_TEST(json::parse(back.body)["state"] == "needs_attention");
  BOOST_TEST(s.payment(id).status == "mismatch");
  BOOST_TEST(s.fx->of(id) == 0);
}

BOOST_AUTO_TEST_CASE(verify_failing_is_retried_with_backoff) {
  shop_options o;
  o.misbehave.verify_errors = 2; // 500, 500, then the answer
  shop s{o};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  auto t0 = std::chrono::steady_clock::now();
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(s.gw->verify_calls(ref) == 3u);
  BOOST_TEST(s.gw->stats().verify_errors == 2u);
  // Two failed attempts, 150ms then 300ms apart (±20%): the order could
  // not have moved sooner.
  BOOST_TEST(took >= 360ms);
  BOOST_TEST(
    s.count("SELECT attempts FROM inbox WHERE reference = '" + ref + "'") == 2);
  BOOST_TEST(s.payment(id).settled_by == "webhook");
  BOOST_TEST(s.fx->of(id) == 1);
}

BOOST_AUTO_TEST_CASE(an_event_that_keeps_failing_is_set_aside) {
  shop_options o;
  o.misbehave.verify_errors = 1000; // verify never answers
  o.retry_for = 1s;
  shop s{o};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(shop::eventually([&] {
    return s.count("SELECT COUNT(*) FROM inbox WHERE reference = '" + ref
                   + "' AND status = 'ignored' AND last_error LIKE 'set "
                     "aside after %'")
           == 1;
  }));
  auto attempts
    = s.count("SELECT attempts FROM inbox WHERE reference = '" + ref + "'");
  BOOST_TEST(attempts >= 2);
  // No longer retried: the count stays.
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(
    s.count("SELECT attempts FROM inbox WHERE reference = '" + ref + "'")
    == attempts);
  BOOST_TEST(s.state(id) == "pending"); // nothing verified, nothing moved
}

BOOST_AUTO_TEST_CASE(a_declined_payment_fails_when_the_wait_is_over) {
  shop_options o;
  o.reconcile_after = 200ms;
  shop s{o};
  auto order = s.checkout(s.quick_product);
  std::string id = order["order"]["id"];
  auto res = s.press(order, "decline");
  BOOST_TEST(res.status == 303u);
  // No webhook for a failed charge; reconciliation learns it, the order's
  // own timeout ends it.
  BOOST_REQUIRE(s.reaches(id, "failed"));
  BOOST_TEST(s.events(id, "payment.expired") == 1);
  BOOST_TEST(s.gw->stats().webhook_attempts == 0u);
  auto p = s.payment(id);
  BOOST_TEST(p.status == "initialized");
  BOOST_TEST(p.gateway_status == "failed");
  BOOST_TEST(p.checks >= 1);
  BOOST_TEST(s.fx->of(id) == 0);
}

// Paid, but its webhook never came and reconciliation has not looked yet:
// as the order's wait runs out, the gateway is asked first, and the order
// is delivered rather than failed (and then parked as paid too late).
BOOST_AUTO_TEST_CASE(a_payment_whose_webhook_was_lost_is_found_before_expiry) {
  shop_options o;
  o.misbehave.drop = true;  // the webhook is lost
  o.reconcile_after = 300s; // reconciliation would come far too late
  shop s{o};
  auto order = s.checkout(s.quick_product);
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  auto p = s.payment(id);
  BOOST_TEST(p.status == "succeeded");
  BOOST_TEST(p.settled_by == "expiry");
  BOOST_TEST(s.events(id, "payment.succeeded") == 1);
  BOOST_TEST(s.events(id, "payment.expired") == 0);
  BOOST_TEST(s.fx->of(id) == 1);
  BOOST_TEST(s.gw->stats().webhook_attempts == 0u);
}

// A lost webhook, reconciliation far off, the first `verify_errors` verify
// calls per reference failing, and a timer claim that runs out in a second.
shop_options unanswered_expiry(uint32_t verify_errors) {
  shop_options o;
  o.misbehave.drop = true;
  o.misbehave.verify_errors = verify_errors;
  o.reconcile_after = 300s;
  o.timer_lease = 1s;
  return o;
}

// The same, with the gateway failing the first look as the wait runs out:
// the order does not expire on no answer; the next look (when the timer's
// claim has run out) finds the payment.
BOOST_AUTO_TEST_CASE(an_expiry_waits_for_a_gateway_that_did_not_answer) {
  // Per reference: only the expiry's first look fails.
  shop s{unanswered_expiry(1)};
  auto order = s.checkout(s.quick_product);
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  BOOST_TEST(s.payment(id).settled_by == "expiry");
  BOOST_TEST(s.events(id, "payment.expired") == 0);
  BOOST_TEST(s.gw->verify_calls(ref) >= 2u);
  BOOST_TEST(s.fx->of(id) == 1);
}

// A gateway that stays silent does not keep an order open for ever: once
// its expiry is more than 10 minutes overdue (here back-dated), it expires
// without an answer, and reconciliation is left to find the money.
BOOST_AUTO_TEST_CASE(an_expiry_long_overdue_goes_ahead_without_an_answer) {
  shop s{unanswered_expiry(1000)}; // the gateway never answers a verify
  auto order = s.checkout(s.quick_product);
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  auto long_ago = souk::to_iso(souk::now() - std::chrono::minutes{11});
  auto st = s.db->run([&](soci::session& sql) {
    sql << "UPDATE timers SET due_at = :d WHERE order_id = :o AND event = "
           "'payment.expired'",
      soci::use(long_ago), soci::use(id);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "failed"));
  BOOST_TEST(s.events(id, "payment.expired") == 1);
  BOOST_TEST(s.gw->verify_calls(ref) >= 1u);
  BOOST_TEST(s.payment(id).status == "initialized");
  BOOST_TEST(s.fx->of(id) == 0);
}

// A webhook is stored leased to the node that took it and worked on from
// memory, without a claim of its own; if that node dies first, another
// works on it once the lease has run out.
BOOST_AUTO_TEST_CASE(a_webhook_is_worked_on_by_its_node_or_after_its_lease) {
  shop_options o;
  o.misbehave.drop = true; // the webhooks come from the nodes below
  shop s{o};
  // Paystack's event key is the transaction's id: one per payment.
  int64_t transaction = 4711;
  auto charge_success = [&](const std::string& ref) {
    auto body = json{{"event", "charge.success"},
                     {"data",
                      {{"id", transaction++},
                       {"reference", ref},
                       {"status", "success"},
                       {"amount", 500000},
                       {"currency", "NGN"}}}}
                  .dump();
    return std::pair{body, souk::hmac_sha512_hex(secret, body)};
  };
  auto leased = [&](const std::string& ref) {
    return s.count("SELECT COUNT(*) FROM inbox WHERE reference = '" + ref
                   + "' AND status = 'received' AND claimed_until > '"
                   + souk::to_iso(souk::now()) + "'");
  };
  souk::payments::paystack_options gw;
  gw.base_url = s.sandbox_url();
  gw.secret_key = secret;

  // An order paid on the gateway, and a node storing its webhook.
  struct paid_order {
    std::string id, ref;
  };
  auto pay = [&] {
    auto order = s.checkout();
    BOOST_REQUIRE(s.press(order, "pay").status == 303u);
    return paid_order{order["order"]["id"], order["payment"]["reference"]};
  };
  auto store = [&](souk::payments::service& at, const std::string& ref) {
    auto [body, sig] = charge_success(ref);
    auto got = at.receive_webhook(body, sig);
    BOOST_REQUIRE(got);
    BOOST_TEST((*got == souk::payments::intake::accepted));
  };

  // A node that stores the webhook and works on it: its engine is down,
  // so the order is not told, and the event is left to be tried again.
  auto first = pay();
  std::vector<std::string> told;
  souk::payments::order_port down;
  down.deliver
    = [&](const std::string& id,
          souk::orders::event_input) -> souk::expected<souk::orders::outcome> {
    told.push_back(id);
    return souk::error{souk::errc::unavailable, "the engine is down"};
  };
  souk::payments::service_options opts;
  opts.webhook_lease = 90s; // more than a claim's (60 s) left when taken
  souk::payments::service node{s.db, souk::payments::make_paystack(gw), nullptr,
                               down, opts};
  store(node, first.ref);
  BOOST_TEST(leased(first.ref) == 1); // no claim can take it...
  node.run_due();                     // ...but its node works on it
  BOOST_REQUIRE_EQUAL(told.size(), 1u);
  BOOST_TEST(told[0] == first.id);
  // Released for a retry, which the shop's node makes.
  BOOST_REQUIRE(s.reaches(first.id, "delivered"));
  BOOST_TEST(s.events(first.id, "payment.succeeded") == 1);

  // A node that dies after storing it: nobody works on it until its lease
  // runs out; then the shop's node claims it.
  auto second = pay();
  opts.webhook_lease = 3s;
  {
    souk::payments::service dying{s.db, souk::payments::make_paystack(gw),
                                  nullptr, down, opts};
    store(dying, second.ref);
  }
  std::this_thread::sleep_for(1s);
  BOOST_TEST(leased(second.ref) == 1);
  BOOST_TEST(s.state(second.id) == "pending");
  BOOST_REQUIRE(s.reaches(second.id, "delivered"));
  BOOST_TEST(told.size() == 1u);
  BOOST_TEST(s.events(second.id, "payment.succeeded") == 1);

  // A node that stops gracefully gives up what it stored and did not work
  // on: the shop's node takes it at once, long before its lease would end.
  auto third = pay();
  opts.webhook_lease = 10min;
  {
    souk::payments::service stopping{s.db, souk::payments::make_paystack(gw),
                                     nullptr, down, opts};
    store(stopping, third.ref);
    BOOST_TEST(leased(third.ref) == 1);
    stopping.release_handed();
  }
  BOOST_TEST(leased(third.ref) == 0);
  BOOST_REQUIRE(s.reaches(third.id, "delivered"));
  BOOST_TEST(told.size() == 1u);
  BOOST_TEST(s.inbox_open() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(settle_repair)

// Money for an order that expired first: the order records the payment as
// ignored, in the same transaction as the payment is settled, and is parked
// after; until then the payment's checks stay open. If that park is lost
// (the node died, the database failed), the next look at the payment is
// turned away again and parks it.
BOOST_AUTO_TEST_CASE(a_late_payment_whose_park_was_lost_is_parked_later) {
  shop_options o;
  o.misbehave.drop = true;  // no webhook
  o.reconcile_after = 300s; // nor reconciliation
  shop s{o};
  auto order = s.checkout(s.quick_product);
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.reaches(id, "failed")); // its wait ran out unpaid
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);

  souk::payments::paystack_options gw;
  gw.base_url = s.sandbox_url();
  gw.secret_key = secret;
  souk::payments::order_port port;
  port.deliver
    = [&](const std::string& order_id, souk::orders::event_input in) {
        return s.node->engine().deliver_wait(order_id, std::move(in));
      };
  port.park = [](const std::string&, const std::string&) -> souk::status {
    return souk::error{souk::errc::unavailable, "the node died"};
  };
  souk::payments::service dying{
    s.db, souk::payments::make_paystack(gw), nullptr, port, {}};
  BOOST_TEST(!dying.settle(ref, "callback"));
  BOOST_TEST(s.payment(id).status == "succeeded");
  BOOST_TEST(s.state(id) == "failed");
  BOOST_TEST(s.payment(id).next_check_at
             != souk::persistence::payment_repository::no_more_checks);

  // The buyer's return makes the shop look again: turned away again (each
  // arrival is in the timeline), and parked now.
  auto back = http_request(s.port, "GET",
                           "/api/v1/payments/paystack/return?reference=" + ref,
                           {}, {{"Accept", "application/json"}});
  BOOST_TEST(back.status == 200u);
  BOOST_REQUIRE(s.reaches(id, "needs_attention"));
  BOOST_TEST(s.events(id, "payment.succeeded") == 2);
  BOOST_TEST(s.payment(id).next_check_at
             == souk::persistence::payment_repository::no_more_checks);
  BOOST_TEST(s.fx->of(id) == 0); // nothing delivered
}

// Another caller settles the payment between this one's read and the
// order's transaction: this one's settlement is refused, which undoes the
// order's record of the event with it; it then goes on from the stored row
// (the other's), and the order is paid once.
BOOST_AUTO_TEST_CASE(a_payment_settled_meanwhile_is_taken_as_stored) {
  shop_options o;
  o.misbehave.drop = true;  // no webhook
  o.reconcile_after = 300s; // nor reconciliation
  shop s{o};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);

  souk::payments::paystack_options gw;
  gw.base_url = s.sandbox_url();
  gw.secret_key = secret;
  int delivered = 0;
  souk::payments::order_port port;
  port.deliver
    = [&](const std::string& order_id, souk::orders::event_input in) {
        if (delivered++ == 0) {
          // The other caller, first: it settled the payment and stopped.
          auto st = s.db->run([&](soci::session& sql) {
            sql << "UPDATE payments SET status = 'succeeded', gateway_status = "
                   "'success', settled_by = 'callback' WHERE reference = :r",
              soci::use(ref);
          });
          BOOST_REQUIRE_MESSAGE(!st, st.detail);
        }
        return s.node->engine().deliver_wait(order_id, std::move(in));
      };
  souk::payments::service node{
    s.db, souk::payments::make_paystack(gw), nullptr, port, {}};
  auto settled = node.settle(ref, "webhook");
  BOOST_REQUIRE_MESSAGE(settled, (settled ? "" : settled.err().detail));
  BOOST_TEST(settled->payment_status == "succeeded");
  BOOST_TEST(delivered == 2); // refused together, then on its own
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  BOOST_TEST(s.payment(id).settled_by == "callback"); // the stored row
  BOOST_TEST(s.events(id, "payment.succeeded") == 1);
  BOOST_TEST(s.payment(id).next_check_at
             == souk::persistence::payment_repository::no_more_checks);
  BOOST_TEST(s.fx->of(id) == 1);
}

// A payment is settled in the same transaction as its order hears of it, so
// a node whose order engine is gone settles nothing. A payment settled
// alone (a path kept for when the order had recorded the event already)
// whose order never heard is found still due by reconciliation and
// delivered.
BOOST_AUTO_TEST_CASE(a_settled_payment_whose_order_never_heard_is_delivered) {
  shop_options o;
  o.misbehave.drop = true; // no webhook: only the two nodes below
  o.reconcile_after = 2s;  // the shop's own reconciliation, later
  shop s{o};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);

  // The "dying" node: same database and gateway, but its order engine
  // never answers.
  souk::payments::paystack_options gw;
  gw.base_url = s.sandbox_url();
  gw.secret_key = secret;
  souk::payments::order_port dead;
  dead.deliver
    = [](const std::string&,
         souk::orders::event_input) -> souk::expected<souk::orders::outcome> {
    return souk::error{souk::errc::unavailable, "the node died"};
  };
  souk::payments::service dying{
    s.db, souk::payments::make_paystack(gw), nullptr, dead, {}};
  auto settled = dying.settle(ref, "callback");
  BOOST_TEST(!settled);
  BOOST_TEST(s.payment(id).status == "initialized");
  BOOST_TEST(s.state(id) == "pending");

  // Settled alone, as that path leaves it when the node dies next.
  auto st = s.db->run([&](soci::session& sql) {
    sql << "UPDATE payments SET status = 'succeeded', gateway_status = "
           "'success', settled_by = 'callback' WHERE reference = :r",
      soci::use(ref);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  BOOST_TEST(s.payment(id).settled_by == "callback");
  BOOST_TEST(s.payment(id).next_check_at
             == souk::persistence::payment_repository::no_more_checks);
  BOOST_TEST(s.events(id, "payment.succeeded") == 1);
  BOOST_TEST(s.fx->of(id) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
