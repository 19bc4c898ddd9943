// Money that came after the order gave up waiting: the order ran out of time
// (failed), then the buyer paid on the gateway's page and its webhook
// arrived. The order is parked in needs_attention, nothing delivered and
// nothing credited; an operator then either fulfils it (as if the payment
// had come in time) or refunds it through the gateway, each once. Over real
// HTTP to the sandbox gateway, on SQLite and PostgreSQL.

#include "souk/persistence/ledger.hpp"

#include "shop.hpp"

using namespace souk::testing;

namespace {

// An order of the quick product whose payment came after it had failed.
struct late_order {
  std::string id;
  std::string reference;
};

late_order pay_too_late(shop& s) {
  auto order = s.checkout(s.quick_product);
  late_order o{order["order"]["id"], order["payment"]["reference"]};
  BOOST_REQUIRE(s.reaches(o.id, "failed")); // its wait ran out unpaid
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(o.id, "needs_attention"));
  auto snap = s.snapshot(o.id);
  BOOST_TEST(snap.order.parked_from == "failed");
  BOOST_TEST(snap.order.last_error.find("after the order left pending")
               != std::string::npos,
             snap.order.last_error);
  BOOST_TEST(s.payment(o.id).status == "succeeded");
  BOOST_TEST(s.fx->of(o.id) == 0);
  return o;
}

http_reply post(shop& s, const std::string& token, const std::string& path,
                const json& body = json::object()) {
  return http_request(s.port, "POST", path, body.dump(),
                      {{"Authorization", "Bearer " + token},
                       {"Content-Type", "application/json"}});
}

void ledger_is_sound(shop& s) {
  auto report = souk::persistence::ledger_repository{*s.db}.check();
  BOOST_REQUIRE(report);
  BOOST_TEST(report->problems.empty());
}

} // namespace

BOOST_AUTO_TEST_SUITE(late_payment)

BOOST_AUTO_TEST_CASE(an_operator_fulfils_a_payment_that_came_late) {
  shop s;
  auto o = pay_too_late(s);
  auto path = "/admin/orders/" + o.id + "/fulfil";
  // Operators only.
  BOOST_TEST(post(s, s.creator_token, path).status == 403u);
  BOOST_TEST(s.state(o.id) == "needs_attention");

  // The gateway is asked first; while it does not answer, nothing happens.
  auto events = s.snapshot(o.id).events.size();
  auto normal = s.gw->current_behaviour();
  auto silent = normal;
  silent.verify_errors = 1000;
  s.gw->set_behaviour(silent);
  auto unanswered = post(s, s.op_token, path);
  BOOST_TEST(unanswered.status == 503u, unanswered.body);
  BOOST_TEST(s.snapshot(o.id).events.size() == events);
  BOOST_TEST(s.state(o.id) == "needs_attention");
  s.gw->set_behaviour(normal);

  auto res = post(s, s.op_token, path, {{"reason", "the buyer wrote in"}});
  BOOST_REQUIRE_MESSAGE(res.status == 202u, res.body);
  BOOST_TEST(json::parse(res.body)["from"] == "needs_attention");
  BOOST_REQUIRE(s.reaches(o.id, "delivered"));
  // Delivered once and the creator credited once, as for a payment in time.
  BOOST_TEST(s.fx->of(o.id) == 1);
  BOOST_TEST(s.balance("pending") == 465'000);
  auto snap = s.snapshot(o.id);
  auto f = std::find_if(snap.events.begin(), snap.events.end(),
                        [](auto& e) { return e.event == "order.fulfil"; });
  BOOST_REQUIRE(f != snap.events.end());
  BOOST_TEST(f->actor.starts_with("operator:"));
  BOOST_TEST(f->from_state == "needs_attention");
  BOOST_TEST(f->to_state == "paid");
  BOOST_TEST(json::parse(f->detail)["reason"] == "the buyer wrote in");
  ledger_is_sound(s);

  // A second fulfilment is refused and leaves nothing behind.
  events = snap.events.size();
  auto again = post(s, s.op_token, path);
  BOOST_TEST(again.status == 409u);
  BOOST_TEST(json::parse(again.body)["code"] == "conflict");
  BOOST_TEST(s.snapshot(o.id).events.size() == events);
  BOOST_TEST(s.fx->of(o.id) == 1);
  BOOST_TEST(s.balance("pending") == 465'000);

  // The payment delivered once more (reconciliation looking again, say,
  // because closing its checks had failed): the fulfilment carries the
  // payment's key, so it is a duplicate, and the sale is not parked again.
  auto st = s.db->run([&](soci::session& sql) {
    sql << "UPDATE payments SET next_check_at = '2020-01-01T00:00:00.000Z' "
           "WHERE order_id = :o",
      soci::use(o.id);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  BOOST_TEST(s.come_back(o.reference).status == 200u);
  BOOST_TEST(s.state(o.id) == "delivered");
  BOOST_TEST(s.snapshot(o.id).events.size() == events);
  BOOST_TEST(s.payment(o.id).next_check_at
             == souk::persistence::payment_repository::no_more_checks);

  // From here it is an ordinary sale: a refund takes the credit back.
  auto refund = post(s, s.op_token, "/admin/orders/" + o.id + "/refund");
  BOOST_REQUIRE_MESSAGE(refund.status == 202u, refund.body);
  BOOST_REQUIRE(s.reaches(o.id, "refunded"));
  BOOST_TEST(s.gw->stats().refund_calls == 1u);
  BOOST_TEST(s.balance("pending") == 0);
  ledger_is_sound(s);
}

BOOST_AUTO_TEST_CASE(an_operator_refunds_a_payment_that_came_late) {
  shop s;
  auto o = pay_too_late(s);
  auto events = s.snapshot(o.id).events.size();
  // A parked order is an operator's: not the creator's to refund.
  auto by_creator = s.as_creator("POST", "/api/v1/orders/" + o.id + "/refund");
  BOOST_TEST(by_creator.status == 403u);
  // Whole or not at all: nothing was delivered for it.
  auto partial = post(s, s.op_token, "/admin/orders/" + o.id + "/refund",
                      {{"amount", 100'000}});
  BOOST_TEST(partial.status == 422u);
  BOOST_TEST(json::parse(partial.body)["field"] == "amount");
  // Nor a retry: it would wait for a payment that has come.
  BOOST_TEST(post(s, s.op_token, "/admin/orders/" + o.id + "/retry").status
             == 409u);
  BOOST_TEST(s.snapshot(o.id).events.size() == events);
  BOOST_TEST(s.gw->stats().refund_calls == 0u);

  auto res = post(s, s.op_token, "/admin/orders/" + o.id + "/refund",
                  {{"reason", "the buyer bought elsewhere"}});
  BOOST_REQUIRE_MESSAGE(res.status == 202u, res.body);
  BOOST_REQUIRE(s.reaches(o.id, "refunded"));
  BOOST_TEST(s.gw->stats().refund_calls == 1u);
  auto refunds = souk::persistence::payment_repository{*s.db}.refunds_of(
    s.payment(o.id).id);
  BOOST_REQUIRE(refunds);
  BOOST_REQUIRE(refunds->size() == 1u);
  BOOST_TEST((*refunds)[0].amount == 500'000);
  BOOST_TEST((*refunds)[0].status == "processed");
  // Nothing was delivered or credited, so nothing was taken back either.
  BOOST_TEST(s.fx->of(o.id) == 0);
  BOOST_TEST(s.balance("pending") == 0);
  BOOST_TEST(s.count("SELECT COUNT(*) FROM ledger_entries WHERE cause_id = '"
                     + o.id + "'")
             == 0);
  ledger_is_sound(s);
  // Answered: no fulfilment and no second refund.
  BOOST_TEST(post(s, s.op_token, "/admin/orders/" + o.id + "/fulfil").status
             == 409u);
  BOOST_TEST(post(s, s.op_token, "/api/v1/orders/" + o.id + "/refund").status
             == 409u);
  BOOST_TEST(s.gw->stats().refund_calls == 1u);
  BOOST_TEST(s.fx->of(o.id) == 0);
}

// Refunded in the gateway's dashboard before souk was asked: the gateway
// reports it reversed, so souk neither delivers it nor refunds it again.
BOOST_AUTO_TEST_CASE(a_late_payment_refunded_outside_souk_is_not_answered) {
  shop s;
  auto o = pay_too_late(s);
  auto outside
    = http_request(s.sandbox_port, "POST", "/refund",
                   json{{"transaction", o.reference}}.dump(),
                   {{"Authorization", std::string{"Bearer "} + secret},
                    {"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(outside.status == 200u, outside.body);
  // The gateway processes the refund a moment later.
  BOOST_REQUIRE(s.eventually([&] {
    auto v = http_request(s.sandbox_port, "GET",
                          "/transaction/verify/" + o.reference, {},
                          {{"Authorization", std::string{"Bearer "} + secret}});
    auto doc = json::parse(v.body, nullptr, false);
    return doc.is_object() && doc["data"].is_object()
           && doc["data"].value("status", "") == "reversed";
  }));
  auto events = s.snapshot(o.id).events.size();
  auto fulfil = post(s, s.op_token, "/admin/orders/" + o.id + "/fulfil");
  BOOST_TEST(fulfil.status == 409u);
  BOOST_TEST(
    json::parse(fulfil.body)["detail"].get<std::string>().find("reversed")
      != std::string::npos,
    fulfil.body);
  auto refund = post(s, s.op_token, "/admin/orders/" + o.id + "/refund");
  BOOST_TEST(refund.status == 409u);
  BOOST_TEST(s.state(o.id) == "needs_attention");
  BOOST_TEST(s.snapshot(o.id).events.size() == events);
  BOOST_TEST(s.fx->of(o.id) == 0);
  BOOST_TEST(s.gw->stats().refund_calls == 1u); // the dashboard's only
  // The refund's webhook waits for the operator's answer (retried): the
  // engine would otherwise take it as a late refund, whole or not.
  BOOST_REQUIRE(s.eventually([&] {
    return s.count("SELECT COUNT(*) FROM inbox WHERE event = "
                   "'refund.processed' AND status = 'received' AND attempts "
                   ">= 1 AND last_error LIKE '%is parked%'")
           == 1;
  }));
  BOOST_TEST(s.count("SELECT COUNT(*) FROM refunds") == 0);
  BOOST_TEST(s.state(o.id) == "needs_attention");
  BOOST_TEST(s.snapshot(o.id).events.size() == events);
}

// Partly refunded in the gateway's dashboard: verify still says `success`
// at the full amount; only the gateway's list of refunds shows it. Souk
// must not credit the whole sale (nor ask the gateway for a whole refund it
// would refuse).
BOOST_AUTO_TEST_CASE(
  a_late_payment_partly_refunded_outside_souk_is_not_answered) {
  shop s;
  auto o = pay_too_late(s);
  auto outside
    = http_request(s.sandbox_port, "POST", "/refund",
                   json{{"transaction", o.reference}, {"amount", 1000}}.dump(),
                   {{"Authorization", std::string{"Bearer "} + secret},
                    {"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(outside.status == 200u, outside.body);
  auto v
    = http_request(s.sandbox_port, "GET", "/transaction/verify/" + o.reference,
                   {}, {{"Authorization", std::string{"Bearer "} + secret}});
  BOOST_TEST(json::parse(v.body)["data"].value("status", "") == "success");
  auto events = s.snapshot(o.id).events.size();
  auto fulfil = post(s, s.op_token, "/admin/orders/" + o.id + "/fulfil");
  BOOST_TEST(fulfil.status == 409u);
  BOOST_TEST(
    json::parse(fulfil.body, nullptr, false)
        .value("detail", "")
        .find("refund of payment " + o.reference + " made outside souk")
      != std::string::npos,
    fulfil.body);
  auto refund = post(s, s.op_token, "/admin/orders/" + o.id + "/refund");
  BOOST_TEST(refund.status == 409u);
  BOOST_TEST(s.state(o.id) == "needs_attention");
  BOOST_TEST(s.snapshot(o.id).events.size() == events);
  BOOST_TEST(s.fx->of(o.id) == 0);
  BOOST_TEST(s.gw->stats().refund_calls == 1u); // the dashboard's only
  BOOST_TEST(s.gw->stats().refund_list_calls == 2u);
}

BOOST_AUTO_TEST_CASE(a_mismatched_payment_is_neither_fulfilled_nor_refunded) {
  shop_options opts;
  opts.misbehave.amount_delta = -100; // the gateway says 100 kobo less
  shop s{opts};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "needs_attention"));
  auto events = s.snapshot(id).events.size();
  auto fulfil = post(s, s.op_token, "/admin/orders/" + id + "/fulfil");
  BOOST_TEST(fulfil.status == 409u);
  auto refund = post(s, s.op_token, "/admin/orders/" + id + "/refund");
  BOOST_TEST(refund.status == 409u);
  BOOST_TEST(
    json::parse(refund.body)["detail"].get<std::string>().find("mismatch")
      != std::string::npos,
    refund.body);
  BOOST_TEST(s.snapshot(id).events.size() == events);
  BOOST_TEST(s.state(id) == "needs_attention");
  BOOST_TEST(s.fx->of(id) == 0);
  BOOST_TEST(s.gw->stats().refund_calls == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
