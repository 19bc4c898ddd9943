// The webhook and the buyer's returning browser both try to complete the
// same order; whichever arrives first does, exactly once, in either order of
// arrival and when they truly race. Runs on SQLite and PostgreSQL.

#include <future>

#include "shop.hpp"

using namespace souk::testing;

BOOST_AUTO_TEST_SUITE(race)

BOOST_AUTO_TEST_CASE(callback_first_then_webhook) {
  shop_options o;
  o.misbehave.delay = 1500ms; // the webhook is late
  shop s{o};
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  auto back = s.come_back(ref);
  BOOST_REQUIRE_MESSAGE(back.status == 200u, back.body);
  BOOST_TEST(json::parse(back.body)["title"] == "Thank you");
  BOOST_TEST(s.payment(id).settled_by == "callback");
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  // Now the webhook: acknowledged, processed, and nothing happens twice.
  BOOST_REQUIRE(
    shop::eventually([&] { return s.gw->stats().webhooks_delivered == 1u; }));
  BOOST_REQUIRE(shop::eventually(
    [&] { return s.inbox_rows(ref) == 1 && s.inbox_open() == 0; }));
  BOOST_TEST(s.events(id, "payment.succeeded") == 1);
  BOOST_TEST(s.fx->of(id) == 1);
  BOOST_TEST(s.payment(id).settled_by == "callback");
  BOOST_TEST(s.state(id) == "delivered");
}

BOOST_AUTO_TEST_CASE(webhook_first_then_callback) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  BOOST_REQUIRE(s.press(order, "pay").status == 303u);
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  BOOST_TEST(s.payment(id).settled_by == "webhook");
  auto back = s.come_back(ref);
  BOOST_REQUIRE_MESSAGE(back.status == 200u, back.body);
  auto doc = json::parse(back.body);
  BOOST_TEST(doc["title"] == "Thank you");
  BOOST_TEST(doc["state"] == "delivered");
  BOOST_TEST(s.events(id, "payment.succeeded") == 1);
  BOOST_TEST(s.fx->of(id) == 1);
  BOOST_TEST(s.payment(id).settled_by == "webhook");
}

BOOST_AUTO_TEST_CASE(webhook_and_callback_at_once) {
  shop s;
  for (int round = 0; round < 5; ++round) {
    auto order = s.checkout();
    std::string id = order["order"]["id"];
    std::string ref = order["payment"]["reference"];
    // Paying queues the webhook at once; the browser comes back at the same
    // moment, from another thread.
    auto browser
      = std::async(std::launch::async, [&] { return s.come_back(ref); });
    BOOST_REQUIRE(!s.gw->pay(ref));
    auto second
      = std::async(std::launch::async, [&] { return s.come_back(ref); });
    browser.get();
    auto back = second.get();
    BOOST_TEST(back.status == 200u);
    BOOST_REQUIRE(s.reaches(id, "delivered"));
    BOOST_REQUIRE(shop::eventually([&] { return s.inbox_open() == 0; }));
    BOOST_TEST(s.events(id, "payment.succeeded") == 1);
    BOOST_TEST(s.fx->of(id) == 1);
  }
}

BOOST_AUTO_TEST_SUITE_END()
