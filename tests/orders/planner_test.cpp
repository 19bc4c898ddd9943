#include <boost/test/unit_test.hpp>

#include "souk/orders/planner.hpp"

using namespace std::chrono_literals;
namespace fl = souk::flows;
namespace so = souk::orders;
namespace sp = souk::persistence;
using souk::errc;

namespace {

const char* flow_text = R"(flow: shop
version: 2
initial: pending
states:
  pending:
    timeout: { after: 30m, emit: payment.expired }
    on: { payment.succeeded: paid, payment.failed: failed, payment.expired: failed }
  paid:
    steps:
      - call: svc.first
      - call: svc.second
        with: { note: hello }
        retry: { initial: 1s, factor: 2, max_interval: 1m, max_attempts: 3, give_up_on: [invalid_field] }
    on: { steps.done: delivered, steps.failed: failed }
  delivered:
    steps: [ { call: svc.receipt } ]
    on: { refund.requested: refunded }
  refunded: { terminal: true }
  failed: { terminal: true }
)";

const souk::timestamp t0
  = [] { return *souk::parse_iso("2030-01-01T00:00:00.000Z"); }();

// Walks one order through plans, committing each as the database would.
struct fixture {
  fl::flow_template tpl;
  so::plan_options opts;
  sp::order_snapshot snap;
  souk::timestamp now = t0;

  fixture() {
    fl::action_catalog c;
    c.add("svc.first");
    c.add("svc.second", {"note"});
    c.add("svc.receipt");
    auto x = fl::load_template(flow_text, "shop.yaml", c);
    BOOST_REQUIRE_MESSAGE(x, (x ? "" : x.err().detail));
    tpl = *x;
    opts.retry_jitter = 0;
    opts.step_lease = 60s;
    sp::order_row base;
    base.id = "o1";
    base.product_id = "p1";
    base.amount = 5000;
    base.currency = "NGN";
    auto c0 = so::plan_create(tpl, base, now, opts);
    snap.order = c0.order;
    auto e = c0.first_event;
    e.seq = 1;
    e.order_id = "o1";
    snap.events.push_back(e);
    snap.timers = c0.timers;
    snap.outbox = c0.outbox;
  }

  // Commits `p` (if it has rows) and returns it.
  so::plan commit(so::plan p) {
    if (p.tx) {
      BOOST_TEST(p.tx->expected_version == snap.order.version);
      sp::transition_result r{snap.order.version + 1,
                              static_cast<int64_t>(snap.events.size()) + 1};
      so::mirror(snap, *p.tx, r, now);
    }
    return p;
  }

  so::plan event(const std::string& name, const std::string& key = {}) {
    return commit(
      so::plan_event(tpl, snap, {name, "test", "", key}, now, opts));
  }

  so::plan step(errc code, double jitter = 0.5) {
    BOOST_REQUIRE(!snap.outbox.empty());
    return commit(so::plan_step_result(tpl, snap, snap.outbox.front().id, code,
                                       code == errc::ok ? "" : "boom", now,
                                       opts, jitter));
  }

  so::plan fire(const std::string& kind) {
    auto t = std::find_if(snap.timers.begin(), snap.timers.end(),
                          [&](auto& x) { return x.kind == kind; });
    BOOST_REQUIRE(t != snap.timers.end());
    return commit(so::plan_timer(tpl, snap, t->id, now, opts));
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(planner, fixture)

BOOST_AUTO_TEST_CASE(a_new_order_pins_its_flow_and_arms_the_timeout) {
  BOOST_TEST(snap.order.state == "pending");
  BOOST_TEST(snap.order.version == 1);
  BOOST_TEST(snap.order.flow == "shop");
  BOOST_TEST(snap.order.flow_version == 2);
  BOOST_TEST(snap.order.flow_hash == tpl.hash);
  BOOST_REQUIRE_EQUAL(snap.timers.size(), 1u);
  BOOST_TEST(snap.timers[0].kind == "state_timeout");
  BOOST_TEST(snap.timers[0].event == "payment.expired");
  BOOST_TEST(snap.timers[0].due_at == "2030-01-01T00:30:00.000Z");
  BOOST_TEST(snap.outbox.empty());
}

BOOST_AUTO_TEST_CASE(the_happy_path_runs_each_step_once_in_order) {
  auto paid = event("payment.succeeded");
  BOOST_TEST((paid.result == so::outcome::applied));
  BOOST_TEST(paid.tx->cancel_all_timers);
  BOOST_TEST(snap.order.state == "paid");
  BOOST_TEST(snap.timers.empty());
  BOOST_REQUIRE(paid.dispatch);
  BOOST_TEST(paid.dispatch->action == "svc.first");
  BOOST_TEST(paid.dispatch->idempotency_key == "o1:2:0");
  BOOST_TEST(paid.dispatch->claimed_until == "2030-01-01T00:01:00.000Z");
  BOOST_TEST(snap.order.step_attempt == 1);

  auto first = step(errc::ok);
  BOOST_TEST(first.tx->event.event == "step.succeeded");
  BOOST_REQUIRE(first.dispatch);
  BOOST_TEST(first.dispatch->action == "svc.second");
  BOOST_TEST(first.dispatch->params == R"({"note":"hello"})");
  BOOST_TEST(first.dispatch->idempotency_key == "o1:3:1");
  BOOST_TEST(snap.outbox.size() == 1u);
  BOOST_TEST(snap.order.step_index == 1);

  auto second = step(errc::ok);
  BOOST_TEST(second.tx->event.event == "steps.done");
  BOOST_TEST(snap.order.state == "delivered");
  // paid had no pending timer: nothing to cancel, no statement for it.
  BOOST_TEST(!second.tx->cancel_all_timers);
  BOOST_TEST(second.tx->from_state == "paid");
  BOOST_REQUIRE(second.dispatch);
  BOOST_TEST(second.dispatch->action == "svc.receipt");

  // The receipt is a side effect: delivered does not handle steps.*.
  auto receipt = step(errc::ok);
  BOOST_TEST(receipt.tx->event.event == "steps.done");
  BOOST_TEST(snap.order.state == "delivered");
  BOOST_TEST(snap.order.step_index == 1);
  BOOST_TEST(!receipt.dispatch);
  BOOST_TEST(snap.outbox.empty());
  BOOST_TEST(!so::pending_dispatch(snap));

  event("refund.requested");
  BOOST_TEST(snap.order.state == "refunded");
  BOOST_TEST(snap.events.size() == 6u);
}

BOOST_AUTO_TEST_CASE(a_failed_step_is_retried_with_backoff_on_the_same_key) {
  event("payment.succeeded");
  step(errc::ok);
  auto key = snap.outbox.front().idempotency_key;
  auto failed = step(errc::unavailable);
  BOOST_TEST(failed.tx->event.event == "step.failed");
  BOOST_TEST(!failed.dispatch);
  BOOST_TEST(snap.order.state == "paid");
  BOOST_TEST(snap.order.step_attempt == 2);
  BOOST_TEST(snap.order.last_error == "unavailable: boom");
  BOOST_REQUIRE_EQUAL(snap.timers.size(), 1u);
  BOOST_TEST(snap.timers[0].kind == "step_retry");
  BOOST_TEST(snap.timers[0].due_at == "2030-01-01T00:00:01.000Z");
  BOOST_TEST(snap.outbox.front().attempts == 1);
  BOOST_TEST(snap.outbox.front().claimed_until == "2030-01-01T00:01:01.000Z");
  // Waiting for the timer: nothing to run on a rebuild.
  BOOST_TEST(!so::pending_dispatch(snap));

  now += 1s;
  auto retry = fire("step_retry");
  BOOST_TEST(retry.tx->event.event == "step.retry");
  BOOST_TEST(!retry.tx->fire_timer.empty());
  BOOST_REQUIRE(retry.dispatch);
  BOOST_TEST(retry.dispatch->idempotency_key == key);
  BOOST_TEST(snap.timers.empty());

  auto ok = step(errc::ok);
  BOOST_TEST(ok.tx->event.event == "steps.done");
  BOOST_TEST(snap.order.state == "delivered");
  BOOST_TEST(snap.order.last_error.empty());
}

BOOST_AUTO_TEST_CASE(retries_exhausted_fail_the_order) {
  event("payment.succeeded");
  step(errc::ok);
  step(errc::timeout);
  now += 1s;
  fire("step_retry");
  step(errc::timeout);
  BOOST_TEST(snap.timers.front().due_at == "2030-01-01T00:00:03.000Z"); // 2s
  now += 2s;
  fire("step_retry");
  auto last = step(errc::timeout);
  BOOST_TEST(last.tx->event.event == "steps.failed");
  BOOST_TEST(last.tx->update_outbox.at(0).status == "failed");
  BOOST_TEST(snap.order.state == "failed");
  BOOST_TEST(snap.order.last_error == "timeout: boom");
  BOOST_TEST(snap.outbox.empty());
  BOOST_TEST(snap.timers.empty());
}

BOOST_AUTO_TEST_CASE(a_give_up_code_fails_at_once) {
  event("payment.succeeded");
  step(errc::ok);
  auto p = step(errc::invalid_field);
  BOOST_TEST(p.tx->event.event == "steps.failed");
  BOOST_TEST(snap.order.state == "failed");
}

BOOST_AUTO_TEST_CASE(retry_delays_carry_jitter) {
  opts.retry_jitter = 0.2;
  event("payment.succeeded");
  step(errc::ok);
  step(errc::unavailable, 0.0);
  BOOST_TEST(snap.timers.front().due_at == "2030-01-01T00:00:00.800Z");
}

BOOST_AUTO_TEST_CASE(the_state_timeout_fires_its_event) {
  now += 30min;
  auto p = fire("state_timeout");
  BOOST_TEST((p.result == so::outcome::applied));
  BOOST_TEST(p.tx->event.event == "payment.expired");
  BOOST_TEST(p.tx->event.actor == "timer");
  BOOST_TEST(!p.tx->fire_timer.empty());
  BOOST_TEST(snap.order.state == "failed");
}

BOOST_AUTO_TEST_CASE(an_event_the_state_does_not_handle_is_recorded_only) {
  auto p = event("refund.requested");
  BOOST_TEST((p.result == so::outcome::ignored));
  BOOST_REQUIRE(p.tx);
  BOOST_TEST(!p.dispatch);
  BOOST_TEST(snap.order.state == "pending");
  BOOST_TEST(snap.timers.size() == 1u); // the timeout still runs
  BOOST_TEST(snap.events.back().event == "refund.requested");
  BOOST_TEST(snap.events.back().detail.starts_with("ignored"));
}

BOOST_AUTO_TEST_CASE(a_duplicate_event_writes_nothing) {
  auto first = event("payment.succeeded", "evt-1");
  BOOST_TEST((first.result == so::outcome::applied));
  auto again = event("payment.succeeded", "evt-1");
  BOOST_TEST((again.result == so::outcome::duplicate));
  BOOST_TEST(!again.tx);
  BOOST_TEST(!again.dispatch);
  BOOST_TEST(snap.order.version == 2);
  // Without a key the same event is merely not handled any more.
  auto unkeyed = event("payment.succeeded");
  BOOST_TEST((unkeyed.result == so::outcome::ignored));
}

BOOST_AUTO_TEST_CASE(leaving_a_state_cancels_its_unfinished_step) {
  event("payment.succeeded");
  step(errc::ok);
  step(errc::ok);
  BOOST_REQUIRE_EQUAL(snap.outbox.size(), 1u); // the receipt, in flight
  auto receipt = snap.outbox.front().id;
  auto p = event("refund.requested");
  BOOST_TEST(snap.order.state == "refunded");
  BOOST_REQUIRE_EQUAL(p.tx->update_outbox.size(), 1u);
  BOOST_TEST(p.tx->update_outbox[0].id == receipt);
  BOOST_TEST(p.tx->update_outbox[0].status == "failed");
  BOOST_TEST(snap.outbox.empty());
  // Its late answer is stale.
  auto late
    = so::plan_step_result(tpl, snap, receipt, errc::ok, "", now, opts, 0.5);
  BOOST_TEST((late.result == so::outcome::stale));
  BOOST_TEST(!late.tx);
}

BOOST_AUTO_TEST_CASE(stale_timers_and_results_change_nothing) {
  auto t = so::plan_timer(tpl, snap, "no-such-timer", now, opts);
  BOOST_TEST((t.result == so::outcome::stale));
  BOOST_TEST(!t.tx);
  auto r = so::plan_step_result(tpl, snap, "no-such-row", errc::ok, "", now,
                                opts, 0.5);
  BOOST_TEST((r.result == so::outcome::stale));
}

BOOST_AUTO_TEST_CASE(a_rebuilt_order_resumes_its_pending_step) {
  event("payment.succeeded");
  auto row = so::pending_dispatch(snap);
  BOOST_REQUIRE(row);
  BOOST_TEST(row->action == "svc.first");
  auto parked = snap;
  parked.order.state = std::string{sp::parked_state};
  BOOST_TEST(!so::pending_dispatch(parked));
}

BOOST_AUTO_TEST_CASE(a_parked_order_records_events_without_moving) {
  snap.order.state = std::string{sp::parked_state};
  snap.order.parked_from = "pending";
  auto p = event("payment.succeeded", "evt-9");
  BOOST_TEST((p.result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == std::string{sp::parked_state});
  BOOST_TEST(snap.order.parked_from == "pending");
  // Not acted on, so its key is not spent.
  BOOST_TEST(snap.events.back().dedup_key.empty());
}

BOOST_AUTO_TEST_CASE(an_early_event_can_act_when_sent_again_later) {
  auto early = event("refund.requested", "r-1");
  BOOST_TEST((early.result == so::outcome::ignored));
  event("payment.succeeded");
  step(errc::ok);
  step(errc::ok);
  auto later = event("refund.requested", "r-1");
  BOOST_TEST((later.result == so::outcome::applied));
  BOOST_TEST(snap.order.state == "refunded");
  auto again = event("refund.requested", "r-1");
  BOOST_TEST((again.result == so::outcome::duplicate));
}

BOOST_AUTO_TEST_CASE(a_duplicate_answer_cannot_leave_a_retry_armed) {
  event("payment.succeeded");
  auto first = snap.outbox.front().id;
  commit(so::plan_step_result(tpl, snap, first, errc::unavailable, "x", now,
                              opts, 0.5));
  BOOST_REQUIRE_EQUAL(snap.timers.size(), 1u);
  // A late "ok" for the same row (e.g. the first attempt's answer after a
  // timeout) moves on; the retry timer goes with it.
  auto p = commit(
    so::plan_step_result(tpl, snap, first, errc::ok, "", now, opts, 0.5));
  BOOST_TEST(p.tx->cancel_timers.size() == 1u);
  BOOST_TEST(snap.timers.empty());
  BOOST_TEST(snap.order.step_index == 1);
}

namespace {

// What `order_repository::park` does to the rows, applied to the snapshot.
void park(sp::order_snapshot& snap, const std::string& why) {
  auto& o = snap.order;
  o.parked_from = o.state;
  o.state = std::string{sp::parked_state};
  o.last_error = why;
  ++o.version;
  sp::event_row e;
  e.seq = static_cast<int64_t>(snap.events.size()) + 1;
  e.event = "order.parked";
  e.from_state = o.parked_from;
  e.to_state = o.state;
  snap.events.push_back(e);
  snap.timers.clear();
  for (auto& x : snap.outbox) {
    x.status = "failed";
    x.last_error = "parked: " + why;
    snap.last_failed = x;
  }
  snap.outbox.clear();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_retry_runs_the_parked_step_again_under_its_own_key) {
  event("payment.succeeded");
  step(errc::ok);
  auto row = snap.outbox.front();
  BOOST_TEST(row.idempotency_key == "o1:3:1");
  park(snap, "crashed 4 times");

  auto retry = event(std::string{so::retry_event});
  BOOST_TEST((retry.result == so::outcome::applied));
  BOOST_TEST(retry.tx->reopen_outbox == row.id);
  BOOST_TEST(snap.order.state == "paid");
  BOOST_TEST(snap.order.parked_from.empty());
  BOOST_TEST(snap.order.last_error.empty());
  BOOST_TEST(snap.order.step_index == 1);
  BOOST_TEST(snap.order.step_attempt == 1);
  BOOST_REQUIRE(retry.dispatch);
  BOOST_TEST(retry.dispatch->id == row.id);
  BOOST_TEST(retry.dispatch->idempotency_key == row.idempotency_key);
  BOOST_TEST(!snap.last_failed);
  BOOST_REQUIRE_EQUAL(snap.outbox.size(), 1u);
  BOOST_TEST(snap.outbox.front().status == "pending");
  BOOST_TEST(snap.events.back().event == "order.retry");

  // The step that failed goes on from where it was: the order finishes.
  step(errc::ok);
  BOOST_TEST(snap.order.state == "delivered");
}

BOOST_AUTO_TEST_CASE(a_retry_without_a_failed_step_enters_the_state_again) {
  park(snap, "payment mismatch");
  BOOST_TEST(!snap.last_failed);
  now += 1h;
  auto retry = event(std::string{so::retry_event});
  BOOST_TEST((retry.result == so::outcome::applied));
  BOOST_TEST(snap.order.state == "pending");
  BOOST_TEST(!retry.dispatch);
  BOOST_TEST(retry.tx->reopen_outbox.empty());
  // Its timeout starts again.
  BOOST_REQUIRE_EQUAL(snap.timers.size(), 1u);
  BOOST_TEST(snap.timers[0].due_at == "2030-01-01T01:30:00.000Z");
}

BOOST_AUTO_TEST_CASE(a_retry_follows_the_template_into_needs_attention) {
  // A template that gives up into needs_attention: no parked_from, the
  // state came from the transition.
  event("payment.succeeded");
  step(errc::ok);
  auto row = snap.outbox.front();
  row.status = "failed";
  row.last_error = "invalid_field: boom";
  snap.last_failed = row;
  snap.outbox.clear();
  snap.order.state = "needs_attention";
  sp::event_row e;
  e.event = "steps.failed";
  e.from_state = "paid";
  e.to_state = "needs_attention";
  snap.events.push_back(e);

  auto retry = event(std::string{so::retry_event});
  BOOST_TEST((retry.result == so::outcome::applied));
  BOOST_TEST(snap.order.state == "paid");
  BOOST_REQUIRE(retry.dispatch);
  BOOST_TEST(retry.dispatch->action == "svc.second");
}

BOOST_AUTO_TEST_CASE(a_retry_never_reruns_steps_or_reopens_an_old_row) {
  event("payment.succeeded");
  step(errc::ok);
  auto row = snap.outbox.front();
  park(snap, "crashed");
  // A failed row of an earlier entry into the state (its key's version is
  // older than the entry): not this entry's step.
  row.idempotency_key = "o1:1:1";
  snap.last_failed = row;
  auto stale = event(std::string{so::retry_event});
  BOOST_TEST((stale.result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "needs_attention");
  BOOST_TEST(!stale.dispatch);
  // No failed row at all, in a state with steps: refused too, rather than
  // running its steps again under new keys.
  snap.last_failed.reset();
  BOOST_TEST(
    (event(std::string{so::retry_event}).result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "needs_attention");
}

BOOST_AUTO_TEST_CASE(a_retry_elsewhere_is_ignored) {
  auto retry = event(std::string{so::retry_event});
  BOOST_TEST((retry.result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "pending");
  // A refused request leaves nothing behind.
  so::event_input in{std::string{so::retry_event}, "operator:x", "", ""};
  in.record_if_ignored = false;
  auto quiet = so::plan_event(tpl, snap, in, now, opts);
  BOOST_TEST(!quiet.tx);
  // Parked from a terminal state (a payment after the order failed): a
  // retry has nowhere to go.
  event("payment.failed");
  park(snap, "late payment");
  BOOST_TEST(
    (event(std::string{so::retry_event}).result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "needs_attention");
}

namespace {

// The order's wait ran out, then the gateway confirmed the payment: recorded
// as ignored, and the order parked (what payments::service does).
void pay_late(fixture& f) {
  f.event("payment.expired");
  BOOST_REQUIRE(f.snap.order.state == "failed");
  auto late = f.event("payment.succeeded", "payment:ref-1");
  BOOST_REQUIRE((late.result == so::outcome::ignored));
  park(f.snap, "the gateway confirmed payment ref-1 after the order left "
               "pending");
}

} // namespace

BOOST_AUTO_TEST_CASE(a_late_payment_is_fulfilled_as_if_it_came_in_time) {
  pay_late(*this);
  BOOST_TEST(so::late_payment(snap) != nullptr);
  auto f = event(std::string{so::fulfil_event});
  BOOST_TEST((f.result == so::outcome::applied));
  BOOST_TEST(snap.order.state == "paid");
  BOOST_TEST(snap.order.parked_from.empty());
  BOOST_TEST(snap.order.last_error.empty());
  BOOST_REQUIRE(f.dispatch);
  BOOST_TEST(f.dispatch->action == "svc.first");
  auto& e = snap.events.back();
  BOOST_TEST(e.event == "order.fulfil");
  BOOST_TEST(e.from_state == "needs_attention");
  BOOST_TEST(e.to_state == "paid");
  step(errc::ok);
  step(errc::ok);
  BOOST_TEST(snap.order.state == "delivered");
  // Once is all: it is no longer parked for a late payment.
  BOOST_TEST(so::late_payment(snap) == nullptr);
  BOOST_TEST(
    (event(std::string{so::fulfil_event}).result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "delivered");
}

BOOST_AUTO_TEST_CASE(a_late_payment_is_answered_under_its_key_not_retried) {
  pay_late(*this);
  // A retry would go back to wait for a payment that has come.
  BOOST_TEST(
    (event(std::string{so::retry_event}).result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "needs_attention");
  // A partial refund would leave the rest at the gateway: refused.
  auto partial = commit(so::plan_event(
    tpl, snap, {"refund.requested", "operator:x", R"({"amount":100})", ""}, now,
    opts));
  BOOST_TEST((partial.result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "needs_attention");
  // The fulfilment carries the payment's key: the payment delivered again
  // later is a duplicate, not another late payment.
  auto f = commit(so::plan_event(
    tpl, snap,
    {std::string{so::fulfil_event}, "operator:x", "", "payment:ref-1"}, now,
    opts));
  BOOST_TEST((f.result == so::outcome::applied));
  BOOST_TEST(snap.events.back().dedup_key == "payment:ref-1");
  step(errc::ok);
  step(errc::ok);
  BOOST_TEST((event("payment.succeeded", "payment:ref-1").result
              == so::outcome::duplicate));
  BOOST_TEST(snap.order.state == "delivered");
}

BOOST_AUTO_TEST_CASE(
  a_payment_that_finds_the_order_parked_is_not_retried_away) {
  // Parked while it waited (a crash loop), then the payment came: it is
  // recorded as ignored. A retry would go back to `pending` and wait for a
  // payment the gateway will not send again; fulfil or refund it instead.
  park(snap, "crashed 4 times");
  auto late = event("payment.succeeded", "payment:ref-2");
  BOOST_REQUIRE((late.result == so::outcome::ignored));
  BOOST_TEST(so::late_payment(snap) != nullptr);
  BOOST_TEST(
    (event(std::string{so::retry_event}).result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "needs_attention");
  BOOST_TEST(
    (event(std::string{so::fulfil_event}).result == so::outcome::applied));
  BOOST_TEST(snap.order.state == "paid");
}

BOOST_AUTO_TEST_CASE(a_late_payment_is_refunded_from_needs_attention) {
  pay_late(*this);
  auto r = event("refund.requested");
  BOOST_TEST((r.result == so::outcome::applied));
  // The one state the template's refund.requested leads to.
  BOOST_TEST(snap.order.state == "refunded");
  BOOST_TEST(snap.events.back().from_state == "needs_attention");
  // Answered: neither a fulfilment nor a second refund follows.
  BOOST_TEST(
    (event(std::string{so::fulfil_event}).result == so::outcome::ignored));
  BOOST_TEST((event("refund.requested").result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "refunded");
}

BOOST_AUTO_TEST_CASE(only_a_late_payment_is_fulfilled_or_refunded_when_parked) {
  // Waiting for its payment: nothing to fulfil.
  BOOST_TEST(
    (event(std::string{so::fulfil_event}).result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "pending");
  // Parked with no payment (a mismatch never delivers payment.succeeded).
  park(snap, "payment mismatch");
  BOOST_TEST(so::late_payment(snap) == nullptr);
  BOOST_TEST(
    (event(std::string{so::fulfil_event}).result == so::outcome::ignored));
  BOOST_TEST((event("refund.requested").result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "needs_attention");
  // A refused request leaves nothing behind.
  so::event_input in{std::string{so::fulfil_event}, "operator:x", "", ""};
  in.record_if_ignored = false;
  BOOST_TEST(!so::plan_event(tpl, snap, in, now, opts).tx);
}

BOOST_AUTO_TEST_CASE(an_order_that_took_its_payment_is_never_fulfilled_again) {
  // Paid in time, then parked while it ran its steps (a crash loop): its
  // sale may be credited, so neither a fulfilment nor a late refund.
  event("payment.succeeded");
  park(snap, "crashed 4 times");
  BOOST_TEST(so::late_payment(snap) == nullptr);
  BOOST_TEST(
    (event(std::string{so::fulfil_event}).result == so::outcome::ignored));
  BOOST_TEST((event("refund.requested").result == so::outcome::ignored));
  BOOST_TEST(snap.order.state == "needs_attention");
}

BOOST_AUTO_TEST_CASE(a_fulfilled_order_parked_again_is_not_fulfilled_twice) {
  pay_late(*this);
  event(std::string{so::fulfil_event});
  BOOST_REQUIRE(snap.order.state == "paid");
  park(snap, "crashed 4 times");
  BOOST_TEST(so::late_payment(snap) == nullptr);
  BOOST_TEST(
    (event(std::string{so::fulfil_event}).result == so::outcome::ignored));
  BOOST_TEST((event("refund.requested").result == so::outcome::ignored));
  // It is retried instead, from the step it stopped at.
  BOOST_TEST(
    (event(std::string{so::retry_event}).result == so::outcome::applied));
  BOOST_TEST(snap.order.state == "paid");
}

BOOST_AUTO_TEST_CASE(a_step_given_up_is_remembered_as_the_last_failure) {
  event("payment.succeeded");
  auto key = snap.outbox.front().idempotency_key;
  step(errc::ok);
  step(errc::invalid_field); // give_up_on → steps.failed → failed
  BOOST_TEST(snap.order.state == "failed");
  BOOST_REQUIRE(snap.last_failed);
  BOOST_TEST(snap.last_failed->action == "svc.second");
  BOOST_TEST(snap.last_failed->last_error == "invalid_field: boom");
  BOOST_TEST(key == "o1:2:0");
}

BOOST_AUTO_TEST_SUITE_END()
