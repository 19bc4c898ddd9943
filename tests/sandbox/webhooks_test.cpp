// Webhook delivery: signatures, copies, drops, delays, retries, reordering,
// and stopping with retries pending.

#include "souk/core/hash.hpp"

#include "fixture.hpp"

using namespace souk::testing;

namespace {

sandbox::behaviour with(std::function<void(sandbox::behaviour&)> change) {
  sandbox::behaviour b;
  change(b);
  return b;
}

} // namespace

BOOST_AUTO_TEST_SUITE(webhooks)

BOOST_AUTO_TEST_CASE(signatures_match_an_independent_vector) {
  // Computed with Python: hmac.new(key, body, hashlib.sha512).hexdigest()
  std::string body = R"({"event":"charge.success","data":{"reference":)"
                     R"("fixed-ref-1","amount":500000}})";
  std::string expected
    = "66befdf767e095f7785a1e8c1c95e248ba31fa606889cdd00a5f6df85805ac3b"
      "d2e3c4b2f42e08e5bc2d12d26f32c80917c5d40a55c3edd601c8ee66eaf491f8";
  BOOST_TEST(sandbox::signature("sk_test_souk_sandbox", body) == expected);
  // A key longer than the block size is hashed first, as HMAC says.
  BOOST_TEST(sandbox::signature(std::string(200, 'k'), "")
             == "25817dd748c9446b2b0201af68cec787d1732c0f570ef6803bf33a577080"
                "b794f706754f99214ec4606384f9c72131ea2f62d01d07eb2e0e7d7e4a75"
                "ab6e3f1c");
}

BOOST_AUTO_TEST_CASE(charge_success_is_signed_over_the_raw_body) {
  sandbox_app app;
  auto ref = app.paid({{"metadata", {{"order_id", "o-1"}}}});
  auto hooks = app.hooks.wait_for(1);
  auto& hook = hooks.at(0);
  BOOST_TEST(hook.signature == sandbox::signature(secret, hook.body));
  BOOST_TEST(souk::constant_time_equal(
    hook.signature, souk::hmac_sha512_hex(secret, hook.body)));
  BOOST_TEST(hook.event() == "charge.success");
  BOOST_TEST(hook.data()["reference"] == ref);
  BOOST_TEST(hook.data()["status"] == "success");
  BOOST_TEST(hook.data()["amount"] == 500000);
  BOOST_TEST(hook.data()["metadata"]["order_id"] == "o-1");
  BOOST_TEST(hook.data()["customer"]["email"] == "buyer@example.com");
  app.wait_delivered(1);
  auto attempts = app.gw->attempts();
  BOOST_REQUIRE(attempts.size() == 1u);
  BOOST_TEST(attempts[0].event == "charge.success");
  BOOST_TEST(attempts[0].reference == ref);
  BOOST_TEST(attempts[0].copy == 1u);
  BOOST_TEST(attempts[0].number == 1u);
  BOOST_TEST(attempts[0].status == 200);
}

BOOST_AUTO_TEST_CASE(copies_send_identical_bytes) {
  sandbox_app app;
  app.gw->set_behaviour(with([](auto& b) { b.copies = 3; }));
  auto ref = app.paid();
  app.wait_delivered(3);
  auto hooks = app.hooks.received();
  BOOST_REQUIRE(hooks.size() == 3u);
  for (auto& h : hooks) {
    BOOST_TEST(h.body == hooks[0].body);
    BOOST_TEST(h.signature == hooks[0].signature);
    BOOST_TEST(h.data()["reference"] == ref);
  }
  std::vector<uint32_t> copies;
  for (auto& a : app.gw->attempts())
    copies.push_back(a.copy);
  std::sort(copies.begin(), copies.end());
  BOOST_TEST(copies == (std::vector<uint32_t>{1, 2, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(app.gw->stats().webhook_attempts == 3u);
}

BOOST_AUTO_TEST_CASE(drop_sends_nothing_and_counts_it) {
  sandbox_app app;
  app.gw->set_behaviour(with([](auto& b) {
    b.drop = true;
    b.copies = 2;
  }));
  auto dropped = app.paid();
  auto stats = app.gw->stats();
  BOOST_TEST(stats.webhooks_dropped == 2u);
  BOOST_TEST(stats.webhook_attempts == 0u);
  // Once drop is off, the next event arrives, and only it.
  app.gw->set_behaviour({});
  auto sent = app.paid();
  app.wait_delivered(1);
  auto hooks = app.hooks.received();
  BOOST_REQUIRE(hooks.size() == 1u);
  BOOST_TEST(hooks[0].data()["reference"] == sent);
  BOOST_TEST(hooks[0].data()["reference"] != dropped);
}

BOOST_AUTO_TEST_CASE(events_without_a_webhook_url_count_as_dropped) {
  sandbox_app app{test_options(), false};
  app.paid();
  BOOST_TEST(app.gw->stats().webhooks_dropped == 1u);
  // soukd sets its URL once it knows its port.
  app.gw->set_webhook_url(app.hooks.url());
  auto ref = app.paid();
  BOOST_TEST(app.hooks.wait_for(1).at(0).data()["reference"] == ref);
}

BOOST_AUTO_TEST_CASE(delay_holds_the_first_attempt_back) {
  sandbox_app app;
  app.gw->set_behaviour(with([](auto& b) { b.delay = 300ms; }));
  auto start = std::chrono::steady_clock::now();
  app.paid();
  app.hooks.wait_for(1);
  auto waited = std::chrono::steady_clock::now() - start;
  BOOST_TEST(waited >= 300ms);
}

BOOST_AUTO_TEST_CASE(failed_attempts_are_retried_with_the_same_bytes) {
  sandbox_app app;
  app.hooks.fail_next(2);
  auto ref = app.paid();
  app.wait_delivered(1);
  auto hooks = app.hooks.received();
  BOOST_REQUIRE(hooks.size() == 3u);
  for (auto& h : hooks) {
    BOOST_TEST(h.body == hooks[0].body);
    BOOST_TEST(h.signature == hooks[0].signature);
  }
  auto attempts = app.gw->attempts();
  BOOST_REQUIRE(attempts.size() == 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    BOOST_TEST(attempts[i].number == i + 1);
    BOOST_TEST(attempts[i].copy == 1u);
    BOOST_TEST(attempts[i].reference == ref);
    BOOST_TEST(attempts[i].status == (i < 2 ? 500 : 200));
  }
  auto stats = app.gw->stats();
  BOOST_TEST(stats.webhook_attempts == 3u);
  BOOST_TEST(stats.webhooks_delivered == 1u);
}

BOOST_AUTO_TEST_CASE(an_unreachable_receiver_counts_as_a_failed_attempt) {
  auto o = test_options();
  o.webhook_url = "http://127.0.0.1:" + std::to_string(free_port()) + "/x";
  sandbox_app app{o, false};
  app.paid();
  BOOST_REQUIRE(eventually([&] { return app.gw->attempts().size() >= 2; }));
  auto attempts = app.gw->attempts();
  BOOST_TEST(attempts[0].status == 0);
  BOOST_TEST(attempts[1].number == 2u);
  BOOST_TEST(app.gw->stats().webhooks_delivered == 0u);
}

BOOST_AUTO_TEST_CASE(retries_stop_after_the_retry_period) {
  auto o = test_options();
  o.retry_for = 250ms; // attempts at about 0, 100 and 200 ms, then no more
  sandbox_app app{o};
  app.hooks.fail_next(-1);
  app.paid();
  BOOST_REQUIRE(
    eventually([&] { return app.gw->stats().webhooks_given_up == 1u; }));
  auto stats = app.gw->stats();
  BOOST_TEST(stats.webhook_attempts >= 2u);
  BOOST_TEST(stats.webhook_attempts <= 3u);
  BOOST_TEST(stats.webhooks_delivered == 0u);
}

BOOST_AUTO_TEST_CASE(the_schedule_slows_down_after_four_retries) {
  auto o = test_options();
  o.retry_first = 20ms;
  o.retry_later = 300ms;
  sandbox_app app{o};
  app.hooks.fail_next(5); // attempts 1-5 fail, the 6th succeeds
  app.paid();
  app.wait_delivered(1);
  auto attempts = app.gw->attempts();
  BOOST_REQUIRE(attempts.size() == 6u);
  auto at = [&](size_t i) { return souk::parse_iso(attempts[i].at).value(); };
  // The gap before the 6th attempt is the slow one.
  BOOST_TEST((at(5) - at(4)).count() >= 300);
  BOOST_TEST((at(4) - at(0)).count() >= 80);
}

BOOST_AUTO_TEST_CASE(reorder_sends_newest_first) {
  sandbox_app app;
  app.gw->set_behaviour(with([](auto& b) {
    b.reorder = true;
    b.reorder_window = 500ms;
  }));
  auto first = app.paid();
  auto second = app.paid();
  auto hooks = app.hooks.wait_for(2);
  BOOST_REQUIRE(hooks.size() == 2u);
  BOOST_TEST(hooks[0].data()["reference"] == second);
  BOOST_TEST(hooks[1].data()["reference"] == first);
}

BOOST_AUTO_TEST_CASE(reorder_can_put_a_refund_before_its_charge) {
  sandbox_app app;
  app.gw->set_behaviour(with([](auto& b) {
    b.reorder = true;
    b.reorder_window = 1s;
  }));
  auto ref = app.paid();
  app.call_json("POST", "/refund", {{"transaction", ref}}, 200);
  auto hooks = app.hooks.wait_for(2);
  BOOST_REQUIRE(hooks.size() == 2u);
  BOOST_TEST(hooks[0].event() == "refund.processed");
  BOOST_TEST(hooks[1].event() == "charge.success");
  BOOST_TEST(hooks[1].data()["reference"] == ref);
}

BOOST_AUTO_TEST_CASE(amount_delta_reaches_the_webhook) {
  sandbox_app app;
  app.gw->set_behaviour(with([](auto& b) { b.amount_delta = 1000; }));
  app.paid({{"amount", 5000}});
  BOOST_TEST(app.hooks.wait_for(1).at(0).data()["amount"] == 6000);
}

BOOST_AUTO_TEST_CASE(stop_is_prompt_with_retries_pending) {
  auto o = test_options();
  o.retry_first = 50ms;
  o.retry_later = 60s;
  sandbox_app app{o};
  app.hooks.fail_next(-1);
  app.paid();
  BOOST_REQUIRE(eventually([&] { return app.gw->attempts().size() >= 5; }));
  auto start = std::chrono::steady_clock::now();
  app.gw->stop();
  auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(took < 1s);
  auto after = app.gw->stats().webhook_attempts;
  app.gw->stop(); // idempotent
  // Still answers API calls; sends nothing more.
  auto ref = app.paid();
  BOOST_TEST(app.verify(ref)["data"]["status"] == "success");
  BOOST_TEST(app.gw->stats().webhook_attempts == after);
}

BOOST_AUTO_TEST_SUITE_END()
