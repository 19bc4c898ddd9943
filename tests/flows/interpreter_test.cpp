#include <boost/test/unit_test.hpp>

#include "souk/flows/interpreter.hpp"

using namespace std::chrono_literals;
namespace fl = souk::flows;
using souk::errc;

namespace {

// The shape of digital_download, with its own catalog so these tests do
// not move when souk's shipped template does.
const char* flow_text = R"(flow: shop
version: 3
initial: pending
states:
  pending:
    timeout: { after: 30m, emit: payment.expired }
    on: { payment.succeeded: paid, payment.failed: failed, payment.expired: failed }
  paid:
    steps:
      - call: svc.first
      - call: svc.second
        with: { size: 5 }
        retry: { initial: 1s, factor: 2, max_interval: 10s, max_attempts: 6, give_up_on: [invalid_field] }
    on: { steps.done: delivered, steps.failed: failed }
  delivered:
    steps: [ { call: svc.first } ]
    on: { refund.requested: failed }
  failed: { terminal: true }
)";

struct fixture {
  fl::flow_template tpl;

  fixture() {
    fl::action_catalog c;
    c.add("svc.first");
    c.add("svc.second", {"size"});
    auto x = fl::load_template(flow_text, "shop.yaml", c);
    if (!x)
      BOOST_FAIL(x.err().detail);
    tpl = std::move(*x);
  }

  fl::step_decision after(std::string_view state, size_t index,
                          uint32_t attempt, errc outcome) {
    auto x = fl::after_attempt(tpl, state, index, attempt, outcome);
    if (!x)
      BOOST_FAIL(x.err().detail);
    return *x;
  }
};

fl::retry_policy policy(std::chrono::milliseconds initial, double factor,
                        std::chrono::milliseconds max_interval) {
  fl::retry_policy r;
  r.initial = initial;
  r.factor = factor;
  r.max_interval = max_interval;
  return r;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(interpreter, fixture)

BOOST_AUTO_TEST_CASE(start_enters_the_initial_state) {
  auto t = fl::start(tpl);
  BOOST_TEST(t.from.empty());
  BOOST_TEST(t.event.empty());
  BOOST_TEST(t.to == "pending");
  BOOST_TEST(!t.terminal);
  BOOST_TEST(t.steps.empty());
  BOOST_REQUIRE(t.timeout.has_value());
  BOOST_TEST(t.timeout->after == 30min);
  BOOST_TEST(t.timeout->emit == "payment.expired");
}

BOOST_AUTO_TEST_CASE(handled_event_transitions_with_steps) {
  auto r = fl::on_event(tpl, "pending", "payment.succeeded");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(r));
  auto& t = std::get<fl::transition>(r);
  BOOST_TEST(t.from == "pending");
  BOOST_TEST(t.event == "payment.succeeded");
  BOOST_TEST(t.to == "paid");
  BOOST_TEST(!t.terminal);
  BOOST_TEST(!t.timeout.has_value());
  BOOST_REQUIRE(t.steps.size() == 2u);
  BOOST_TEST(t.steps[0].action == "svc.first");
  BOOST_TEST(t.steps[1].action == "svc.second");
  BOOST_TEST(t.steps[1].params.at("size") == "5");
}

BOOST_AUTO_TEST_CASE(timeout_event_leads_to_a_terminal_state) {
  auto r = fl::on_event(tpl, "pending", "payment.expired");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(r));
  auto& t = std::get<fl::transition>(r);
  BOOST_TEST(t.to == "failed");
  BOOST_TEST(t.terminal);
  BOOST_TEST(t.steps.empty());
  BOOST_TEST(!t.timeout.has_value());
}

BOOST_AUTO_TEST_CASE(steps_events_follow_the_template) {
  auto done = fl::on_event(tpl, "paid", "steps.done");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(done));
  BOOST_TEST(std::get<fl::transition>(done).to == "delivered");
  auto failed = fl::on_event(tpl, "paid", "steps.failed");
  BOOST_REQUIRE(std::holds_alternative<fl::transition>(failed));
  BOOST_TEST(std::get<fl::transition>(failed).to == "failed");
  // delivered leaves its steps' outcome unhandled: the order stays.
  BOOST_TEST(std::holds_alternative<fl::not_allowed>(
    fl::on_event(tpl, "delivered", "steps.done")));
  BOOST_TEST(std::holds_alternative<fl::not_allowed>(
    fl::on_event(tpl, "delivered", "steps.failed")));
}

BOOST_AUTO_TEST_CASE(unhandled_events_are_not_allowed) {
  auto r = fl::on_event(tpl, "pending", "refund.requested");
  BOOST_REQUIRE(std::holds_alternative<fl::not_allowed>(r));
  BOOST_TEST(std::get<fl::not_allowed>(r).state == "pending");
  BOOST_TEST(std::get<fl::not_allowed>(r).event == "refund.requested");
  // A late webhook after the order moved on.
  BOOST_TEST(std::holds_alternative<fl::not_allowed>(
    fl::on_event(tpl, "paid", "payment.succeeded")));
  // Terminal states take nothing.
  BOOST_TEST(std::holds_alternative<fl::not_allowed>(
    fl::on_event(tpl, "failed", "refund.requested")));
  // An unknown state (not in this template) takes nothing either.
  BOOST_TEST(std::holds_alternative<fl::not_allowed>(
    fl::on_event(tpl, "nowhere", "payment.succeeded")));
  BOOST_TEST(
    std::holds_alternative<fl::not_allowed>(fl::on_event(tpl, "pending", "")));
}

BOOST_AUTO_TEST_CASE(first_step) {
  auto x = fl::first_step(tpl, "paid");
  BOOST_REQUIRE(x);
  BOOST_REQUIRE(std::holds_alternative<fl::run_step>(*x));
  auto& run = std::get<fl::run_step>(*x);
  BOOST_TEST(run.index == 0u);
  BOOST_TEST(run.attempt == 1u);
  BOOST_TEST(run.action == "svc.first");
  BOOST_TEST(run.params.empty());
  // No steps: trivially done.
  auto none = fl::first_step(tpl, "pending");
  BOOST_REQUIRE(none);
  BOOST_REQUIRE(std::holds_alternative<fl::emit_event>(*none));
  BOOST_TEST(std::get<fl::emit_event>(*none).event == "steps.done");
  auto bad = fl::first_step(tpl, "nowhere");
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.err().code == errc::not_found);
}

BOOST_AUTO_TEST_CASE(success_runs_the_next_step_then_done) {
  auto next = after("paid", 0, 1, errc::ok);
  BOOST_REQUIRE(std::holds_alternative<fl::run_step>(next));
  auto& run = std::get<fl::run_step>(next);
  BOOST_TEST(run.index == 1u);
  BOOST_TEST(run.attempt == 1u);
  BOOST_TEST(run.action == "svc.second");
  BOOST_TEST(run.params.at("size") == "5");
  // Success after retries resets nothing but moves on all the same.
  auto done = after("paid", 1, 4, errc::ok);
  BOOST_REQUIRE(std::holds_alternative<fl::emit_event>(done));
  BOOST_TEST(std::get<fl::emit_event>(done).event == "steps.done");
  BOOST_TEST(std::get<fl::emit_event>(done).cause == errc::ok);
}

BOOST_AUTO_TEST_CASE(failures_retry_with_exponential_backoff) {
  // Step 1: initial 1s, factor 2, max_interval 10s, max_attempts 6.
  std::vector<std::chrono::milliseconds> want{1s, 2s, 4s, 8s, 10s};
  for (uint32_t attempt = 1; attempt <= 5; ++attempt) {
    auto d = after("paid", 1, attempt, errc::unavailable);
    BOOST_TEST_INFO("attempt " << attempt);
    BOOST_REQUIRE(std::holds_alternative<fl::retry_step>(d));
    auto& r = std::get<fl::retry_step>(d);
    BOOST_TEST(r.index == 1u);
    BOOST_TEST(r.attempt == attempt + 1);
    BOOST_TEST(r.delay.count() == want[attempt - 1].count());
  }
  // The sixth attempt was the last.
  auto d = after("paid", 1, 6, errc::timeout);
  BOOST_REQUIRE(std::holds_alternative<fl::emit_event>(d));
  BOOST_TEST(std::get<fl::emit_event>(d).event == "steps.failed");
  BOOST_TEST(std::get<fl::emit_event>(d).cause == errc::timeout);
}

BOOST_AUTO_TEST_CASE(default_policy_gives_five_attempts) {
  // Step 0 has no retry block: 1s, 2s, 4s, 8s, then give up.
  std::vector<std::chrono::milliseconds> want{1s, 2s, 4s, 8s};
  for (uint32_t attempt = 1; attempt <= 4; ++attempt) {
    auto d = after("paid", 0, attempt, errc::internal);
    BOOST_REQUIRE(std::holds_alternative<fl::retry_step>(d));
    BOOST_TEST(std::get<fl::retry_step>(d).delay.count()
               == want[attempt - 1].count());
  }
  auto d = after("paid", 0, 5, errc::internal);
  BOOST_REQUIRE(std::holds_alternative<fl::emit_event>(d));
  BOOST_TEST(std::get<fl::emit_event>(d).event == "steps.failed");
}

BOOST_AUTO_TEST_CASE(give_up_on_fails_at_once) {
  auto d = after("paid", 1, 1, errc::invalid_field);
  BOOST_REQUIRE(std::holds_alternative<fl::emit_event>(d));
  BOOST_TEST(std::get<fl::emit_event>(d).event == "steps.failed");
  BOOST_TEST(std::get<fl::emit_event>(d).cause == errc::invalid_field);
  // Only for the step that lists it: step 0 retries invalid_field.
  BOOST_TEST(std::holds_alternative<fl::retry_step>(
    after("paid", 0, 1, errc::invalid_field)));
}

BOOST_AUTO_TEST_CASE(bad_cursor_is_an_error) {
  auto past = fl::after_attempt(tpl, "paid", 2, 1, errc::ok);
  BOOST_REQUIRE(!past);
  BOOST_TEST(past.err().code == errc::internal);
  auto zero = fl::after_attempt(tpl, "paid", 0, 0, errc::ok);
  BOOST_REQUIRE(!zero);
  BOOST_TEST(zero.err().code == errc::internal);
  auto no_steps = fl::after_attempt(tpl, "pending", 0, 1, errc::ok);
  BOOST_REQUIRE(!no_steps);
  BOOST_TEST(no_steps.err().code == errc::internal);
  auto unknown = fl::after_attempt(tpl, "nowhere", 0, 1, errc::ok);
  BOOST_REQUIRE(!unknown);
  BOOST_TEST(unknown.err().code == errc::not_found);
}

BOOST_AUTO_TEST_CASE(backoff_formula) {
  auto r = policy(1s, 2.0, 1min);
  BOOST_TEST(fl::backoff(r, 1).count() == 1000);
  BOOST_TEST(fl::backoff(r, 2).count() == 2000);
  BOOST_TEST(fl::backoff(r, 6).count() == 32000);
  BOOST_TEST(fl::backoff(r, 7).count() == 60000); // 64s capped
  // Huge attempt numbers stay at the cap instead of overflowing.
  BOOST_TEST(fl::backoff(r, 4'000'000'000u).count() == 60000);
  // Factor 1: a constant delay.
  auto flat = policy(5s, 1.0, 1min);
  BOOST_TEST(fl::backoff(flat, 1).count() == 5000);
  BOOST_TEST(fl::backoff(flat, 100).count() == 5000);
  // Fractional factors.
  auto slow = policy(1s, 1.5, 1min);
  BOOST_TEST(fl::backoff(slow, 3).count() == 2250);
  // initial == max_interval: always the cap.
  auto capped = policy(10s, 3.0, 10s);
  BOOST_TEST(fl::backoff(capped, 1).count() == 10000);
  BOOST_TEST(fl::backoff(capped, 5).count() == 10000);
}

BOOST_AUTO_TEST_SUITE_END()
