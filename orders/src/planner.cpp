#include "souk/orders/planner.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "souk/core/ids.hpp"
#include "souk/flows/interpreter.hpp"

namespace souk::orders {

namespace {

using persistence::order_snapshot;
using persistence::outbox_row;
using persistence::outbox_update;
using persistence::timer_row;

constexpr std::string_view step_retry_event = "step.retry";
constexpr std::string_view paid_event = "payment.succeeded";

// A transition that leaves the order where it is and appends `event`.
persistence::transition stay(const order_snapshot& snap, std::string event,
                             std::string actor, std::string detail) {
  persistence::transition tx;
  auto& o = snap.order;
  tx.order_id = o.id;
  tx.expected_version = o.version;
  tx.from_state = o.state;
  tx.state = o.state;
  tx.step_index = o.step_index;
  tx.step_attempt = o.step_attempt;
  tx.last_error = o.last_error;
  tx.parked_from = o.parked_from;
  tx.event.event = std::move(event);
  tx.event.actor = std::move(actor);
  tx.event.detail = std::move(detail);
  return tx;
}

// The outbox row that runs `s.steps[index]` for the transition creating
// order version `version`. The key is stable across the step's retries (they
// reuse the row) and unique per entry into the state.
outbox_row step_row(const std::string& order_id, int64_t version,
                    const flows::state& s, size_t index, timestamp now,
                    const plan_options& opts) {
  outbox_row x;
  x.id = new_uuid();
  x.order_id = order_id;
  x.action = s.steps[index].action;
  x.params = params_json(s.steps[index]);
  x.idempotency_key = fmt::format("{}:{}:{}", order_id, version, index);
  x.claimed_until = to_iso(now + opts.step_lease);
  return x;
}

// Moves `tx` into the state `tr` leads to: the old state's timers and
// unfinished side effects are cancelled, the new state's timeout armed and
// its first step enqueued and dispatched.
void enter(const flows::flow_template& tpl, const order_snapshot& snap,
           const flows::transition& tr, timestamp now, const plan_options& opts,
           persistence::transition& tx, plan& out) {
  tx.state = tr.to;
  tx.step_index = 0;
  tx.step_attempt = tr.steps.empty() ? 0 : 1;
  tx.last_error.clear();
  tx.parked_from.clear();
  // The snapshot's timers are the order's pending ones (only transitions,
  // which bump the version, arm, fire or cancel them), so with none there
  // is nothing to cancel and no statement to send.
  tx.cancel_all_timers = !snap.timers.empty();
  for (auto& row : snap.outbox) {
    auto already = std::any_of(tx.update_outbox.begin(), tx.update_outbox.end(),
                               [&](auto& u) { return u.id == row.id; });
    if (!already)
      tx.update_outbox.push_back(
        outbox_update{row.id,
                      "failed",
                      false,
                      fmt::format("{} the order left state '{}' on {}",
                                  persistence::cancelled_prefix,
                                  snap.order.state, tx.event.event),
                      {}});
  }
  if (tr.timeout) {
    timer_row t;
    t.id = new_uuid();
    t.order_id = snap.order.id;
    t.kind = "state_timeout";
    t.event = tr.timeout->emit;
    t.due_at = to_iso(now + tr.timeout->after);
    tx.arm_timers.push_back(std::move(t));
  }
  if (!tr.steps.empty()) {
    auto row = step_row(snap.order.id, snap.order.version + 1, *tpl.find(tr.to),
                        0, now, opts);
    tx.enqueue.push_back(row);
    out.dispatch = std::move(row);
  }
}

const outbox_row* find_outbox(const order_snapshot& snap,
                              const std::string& id) {
  auto i = std::find_if(snap.outbox.begin(), snap.outbox.end(),
                        [&](auto& x) { return x.id == id; });
  return i == snap.outbox.end() ? nullptr : &*i;
}

// An event from outside or a state timeout (then `fire_timer` is its id).
plan plan_input(const flows::flow_template& tpl, const order_snapshot& snap,
                const event_input& in, const std::string& fire_timer,
                timestamp now, const plan_options& opts) {
  plan out;
  if (!in.dedup_key.empty()
      && std::any_of(snap.events.begin(), snap.events.end(),
                     [&](auto& e) { return e.dedup_key == in.dedup_key; })) {
    out.result = outcome::duplicate;
    return out;
  }
  auto tx = stay(snap, in.event, in.actor, in.detail);
  tx.fire_timer = fire_timer;
  auto decision = flows::on_event(tpl, snap.order.state, in.event);
  if (auto* refused = std::get_if<flows::not_allowed>(&decision)) {
    // Recorded so the timeline shows it arrived, e.g. a payment for an
    // order that expired; the order stays where it is.
    out.result = outcome::ignored;
    if (!in.record_if_ignored && fire_timer.empty())
      return out;
    tx.event.detail
      = fmt::format("ignored: not handled in state '{}'{}{}", refused->state,
                    in.detail.empty() ? "" : "; ", in.detail);
  } else {
    // Only an event that acted carries its key: the same event sent again
    // later, when the state handles it, must not count as a duplicate.
    tx.event.dedup_key = in.dedup_key;
    enter(tpl, snap, std::get<flows::transition>(decision), now, opts, tx, out);
  }
  out.tx = std::move(tx);
  return out;
}

// The state a parked order goes back to: the one it was parked from, or the
// one whose transition led to `needs_attention`.
std::string retry_target(const order_snapshot& snap) {
  auto& o = snap.order;
  if (!o.parked_from.empty())
    return o.parked_from;
  for (auto e = snap.events.rbegin(); e != snap.events.rend(); ++e)
    if (e->to_state == o.state && e->from_state != o.state)
      return e->from_state;
  return {};
}

// The version and step index in a step row's key "ORDER:VERSION:INDEX"
// (VERSION: the order version of the transition that enqueued it).
std::optional<std::pair<int64_t, size_t>> key_parts(const outbox_row& row) {
  auto& key = row.idempotency_key;
  auto last = key.rfind(':');
  if (last == std::string::npos || last == 0)
    return std::nullopt;
  auto mid = key.rfind(':', last - 1);
  if (mid == std::string::npos)
    return std::nullopt;
  auto version = key.substr(mid + 1, last - mid - 1);
  auto index = key.substr(last + 1);
  auto digits = [](const std::string& x) {
    return !x.empty() && x.size() <= 12
           && x.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!digits(version) || !digits(index))
    return std::nullopt;
  return std::pair{std::stoll(version),
                   static_cast<size_t>(std::stoull(index))};
}

// The order version that created the latest entry into `state` (the seq
// of the event that entered it: one event per version), 0 if none.
int64_t entry_version(const order_snapshot& snap, const std::string& state) {
  auto& events = snap.events;
  for (auto e = events.rbegin(); e != events.rend(); ++e)
    if (e->to_state == state && e->from_state != state)
      return e->seq;
  return 0;
}

// An engine-handled event turned away: recorded as ignored with `why`
// (unless the caller asked for nothing to be left behind).
plan refused(const order_snapshot& snap, const event_input& in,
             const std::string& why) {
  plan out;
  out.result = outcome::ignored;
  if (!in.record_if_ignored)
    return out;
  auto tx = stay(snap, in.event, in.actor, in.detail);
  tx.event.detail = fmt::format("ignored: {}{}{}", why,
                                in.detail.empty() ? "" : "; ", in.detail);
  out.tx = std::move(tx);
  return out;
}

plan plan_retry(const flows::flow_template& tpl, const order_snapshot& snap,
                const event_input& in, timestamp now,
                const plan_options& opts) {
  plan out;
  auto& o = snap.order;
  auto target = retry_target(snap);
  auto* s = target.empty() ? nullptr : tpl.find(target);
  auto refuse = [&](const std::string& why) { return refused(snap, in, why); };
  if (late_payment(snap) != nullptr)
    // Its payment came and was turned away: going back to wait for it
    // would wait for nothing (the gateway will not send it again).
    return refuse(fmt::format("its payment came after it had left '{}': "
                              "fulfil it ({}) or refund it instead",
                              tpl.initial, fulfil_event));
  if (o.state != persistence::parked_state || s == nullptr || s->terminal)
    return refuse(fmt::format(
      "only an order parked in {} from an unfinished state can be retried "
      "(state '{}'{})",
      persistence::parked_state, o.state,
      target.empty() ? "" : ", from '" + target + "'"));
  auto tx = stay(snap, in.event, in.actor, in.detail);
  auto& failed = snap.last_failed;
  auto parts = failed ? key_parts(*failed) : std::nullopt;
  // The failed row must be a step of the latest entry into the state: it
  // was enqueued at or after the version that entered it.
  if (parts && parts->first >= entry_version(snap, target)
      && parts->second < s->steps.size()
      && s->steps[parts->second].action == failed->action
      && failed->idempotency_key.starts_with(o.id + ":")) {
    auto index = parts->second;
    // Run the failed step again under its own key; steps before it are
    // done, and the state's timeout starts again.
    tx.state = target;
    tx.step_index = static_cast<int32_t>(index);
    tx.step_attempt = 1;
    tx.last_error.clear();
    tx.parked_from.clear();
    tx.cancel_all_timers = !snap.timers.empty(); // see `enter`
    if (s->timeout) {
      timer_row t;
      t.id = new_uuid();
      t.order_id = o.id;
      t.kind = "state_timeout";
      t.event = s->timeout->emit;
      t.due_at = to_iso(now + s->timeout->after);
      tx.arm_timers.push_back(std::move(t));
    }
    auto row = *failed;
    row.status = "pending";
    row.done_at.clear();
    row.claimed_until = to_iso(now + opts.step_lease);
    tx.reopen_outbox = row.id;
    tx.reopen_until = row.claimed_until;
    out.dispatch = std::move(row);
    out.tx = std::move(tx);
    return out;
  }
  if (!s->steps.empty())
    // Running the state's steps again under new keys could repeat effects
    // that did happen (a reversal, an email): a person decides.
    return refuse(fmt::format("no failed step of state '{}' to run again, "
                              "and its steps are not run twice",
                              target));
  // A state that only waits (for a payment, a webhook): enter it again.
  auto tr = flows::reenter(tpl, target, in.event);
  if (!tr)
    return refuse(tr.err().detail);
  enter(tpl, snap, *tr, now, opts, tx, out);
  out.tx = std::move(tx);
  return out;
}

// The shared part of an operator's answer to a late payment: checks that
// the order is parked for one, then enters `tr` (or refuses with its
// error).
plan answer_late_payment(const flows::flow_template& tpl,
                         const order_snapshot& snap, const event_input& in,
                         const expected<flows::transition>& tr, timestamp now,
                         const plan_options& opts, std::string_view what) {
  auto& o = snap.order;
  if (late_payment(snap) == nullptr)
    return refused(
      snap, in,
      fmt::format(
        "only an order parked in {} because its payment came "
        "after it had left '{}' can be {} this way (state '{}'{})",
        persistence::parked_state, tpl.initial, what, o.state,
        o.parked_from.empty() ? "" : ", parked from '" + o.parked_from + "'"));
  if (!tr)
    return refused(snap, in, tr.err().detail);
  plan out;
  auto tx = stay(snap, in.event, in.actor, in.detail);
  // The payment's key marks it answered (`late_payment`); the caller
  // gives the real one, so the payment delivered again is a duplicate.
  tx.event.dedup_key = in.dedup_key.starts_with(payment_key_prefix)
                         ? in.dedup_key
                         : std::string{payment_key_prefix} + "late:" + o.id;
  enter(tpl, snap, *tr, now, opts, tx, out);
  out.tx = std::move(tx);
  return out;
}

// order.fulfil: the transition the initial state takes on the payment.
plan plan_fulfil(const flows::flow_template& tpl, const order_snapshot& snap,
                 const event_input& in, timestamp now,
                 const plan_options& opts) {
  auto decision = flows::on_event(tpl, tpl.initial, paid_event);
  expected<flows::transition> tr = error{
    errc::conflict, fmt::format("flow {} takes no {} in its initial state '{}'",
                                tpl.name, paid_event, tpl.initial)};
  if (auto* t = std::get_if<flows::transition>(&decision))
    tr = *t;
  return answer_late_payment(tpl, snap, in, tr, now, opts, "fulfilled");
}

// refund.requested in needs_attention: the one state the template's
// refund.requested leads to, entered afresh.
plan plan_late_refund(const flows::flow_template& tpl,
                      const order_snapshot& snap, const event_input& in,
                      timestamp now, const plan_options& opts) {
  std::set<std::string> targets;
  for (auto& s : tpl.states)
    if (auto i = s.on.find(std::string{refund_event}); i != s.on.end())
      targets.insert(i->second);
  expected<flows::transition> tr = error{
    errc::conflict, fmt::format("flow {} leads {} to {} states, not one",
                                tpl.name, refund_event, targets.size())};
  if (targets.size() == 1)
    tr = flows::reenter(tpl, *targets.begin(), in.event);
  // Nothing was delivered: the payment goes back whole, or the rest would
  // stay at the gateway with no way back.
  auto asked = nlohmann::json::parse(in.detail, nullptr, false);
  if (asked.is_object() && asked.contains("amount")
      && asked["amount"] != nlohmann::json(snap.order.amount))
    tr = error{errc::conflict,
               fmt::format("a payment that came late is refunded whole ({})",
                           snap.order.amount)};
  return answer_late_payment(tpl, snap, in, tr, now, opts, "refunded");
}

std::string describe(errc code, const std::string& detail) {
  if (detail.empty())
    return std::string{to_string(code)};
  return fmt::format("{}: {}", to_string(code), detail);
}

} // namespace

const persistence::event_row* late_payment(const order_snapshot& snap) {
  if (snap.order.state != persistence::parked_state)
    return nullptr;
  const persistence::event_row* late = nullptr;
  for (auto& e : snap.events) {
    // A payment's events carry its key ("payment:<reference>") when they
    // act: its payment.succeeded taken in time, or an operator's answer
    // to it arriving late (fulfilled or refunded). Either way, answered.
    if (e.dedup_key.starts_with(payment_key_prefix))
      return nullptr;
    if (e.event == paid_event) {
      if (e.from_state != e.to_state)
        return nullptr; // taken (without a key: written by hand)
      late = &e;        // recorded as ignored: it came late
    }
  }
  return late;
}

std::string_view to_string(outcome x) noexcept {
  switch (x) {
  case outcome::applied:
    return "applied";
  case outcome::ignored:
    return "ignored";
  case outcome::duplicate:
    return "duplicate";
  case outcome::stale:
    return "stale";
  }
  return "?";
}

std::string params_json(const flows::step& s) {
  auto j = nlohmann::json::object();
  for (auto& [k, v] : s.params)
    j[k] = v;
  return j.dump();
}

creation plan_create(const flows::flow_template& tpl,
                     persistence::order_row base, timestamp now,
                     const plan_options& opts) {
  creation c;
  c.order = std::move(base);
  if (c.order.id.empty())
    c.order.id = new_uuid();
  auto now_text = to_iso(now);
  c.order.flow = tpl.name;
  c.order.flow_version = static_cast<int32_t>(tpl.version);
  c.order.flow_hash = tpl.hash;
  c.order.version = 0; // entering the initial state makes version 1
  c.order.state_entered_at = c.order.created_at = c.order.updated_at = now_text;
  // Plan the entry into `initial` as a transition from nowhere and take its
  // rows: one code path decides what entering a state means.
  order_snapshot empty;
  empty.order = c.order;
  plan p;
  persistence::transition tx;
  tx.event.event = "order.created";
  enter(tpl, empty, flows::start(tpl), now, opts, tx, p);
  c.order.state = tx.state;
  c.order.step_index = tx.step_index;
  c.order.step_attempt = tx.step_attempt;
  c.order.version = 1;
  c.first_event.event = "order.created";
  c.first_event.actor = "system";
  c.first_event.detail
    = fmt::format("flow {} version {}", tpl.name, tpl.version);
  c.first_event.created_at = now_text;
  c.timers = std::move(tx.arm_timers);
  c.outbox = std::move(tx.enqueue);
  // Nobody runs these until the engine resumes the new order, which takes
  // the lease then.
  for (auto& x : c.outbox)
    x.claimed_until.clear();
  return c;
}

plan plan_event(const flows::flow_template& tpl, const order_snapshot& snap,
                const event_input& in, timestamp now,
                const plan_options& opts) {
  if (in.event == retry_event)
    return plan_retry(tpl, snap, in, now, opts);
  if (in.event == fulfil_event)
    return plan_fulfil(tpl, snap, in, now, opts);
  if (in.event == refund_event && snap.order.state == persistence::parked_state
      && std::holds_alternative<flows::not_allowed>(
        flows::on_event(tpl, snap.order.state, in.event)))
    return plan_late_refund(tpl, snap, in, now, opts);
  return plan_input(tpl, snap, in, {}, now, opts);
}

plan plan_timer(const flows::flow_template& tpl, const order_snapshot& snap,
                const std::string& timer_id, timestamp now,
                const plan_options& opts) {
  auto timer = std::find_if(snap.timers.begin(), snap.timers.end(),
                            [&](auto& t) { return t.id == timer_id; });
  if (timer == snap.timers.end())
    return plan{outcome::stale, {}, {}};
  if (timer->kind == "state_timeout")
    return plan_input(
      tpl, snap,
      event_input{
        timer->event, "timer", "state timeout (due " + timer->due_at + ")", {}},
      timer_id, now, opts);
  // A step retry: run the current step's row again under a fresh lease.
  plan out;
  auto tx = stay(snap, std::string{step_retry_event}, "timer", {});
  tx.fire_timer = timer_id;
  if (!snap.outbox.empty()) {
    auto row = snap.outbox.front();
    row.claimed_until = to_iso(now + opts.step_lease);
    tx.update_outbox.push_back(
      outbox_update{row.id, "pending", false, {}, row.claimed_until});
    tx.event.detail
      = fmt::format("{} attempt {}", row.action, snap.order.step_attempt);
    out.dispatch = std::move(row);
  }
  out.tx = std::move(tx);
  return out;
}

plan plan_step_result(const flows::flow_template& tpl,
                      const order_snapshot& snap, const std::string& outbox_id,
                      errc code, const std::string& detail, timestamp now,
                      const plan_options& opts, double jitter_sample) {
  plan out{outcome::stale, {}, {}};
  auto* row = find_outbox(snap, outbox_id);
  auto* s = tpl.find(snap.order.state);
  if (row == nullptr || s == nullptr || snap.order.step_attempt < 1)
    return out;
  auto index = static_cast<size_t>(snap.order.step_index);
  auto attempt = static_cast<uint32_t>(snap.order.step_attempt);
  auto decision = flows::after_attempt(tpl, s->name, index, attempt, code);
  if (!decision || s->steps[index].action != row->action)
    return out;
  out.result = outcome::applied;
  auto tx = stay(snap, {}, "system", {});
  // Whatever this answer leads to, a retry still armed for the step is
  // over (it can only be left by a duplicate answer).
  for (auto& t : snap.timers)
    if (t.kind == "step_retry")
      tx.cancel_timers.push_back(t.id);
  if (auto* next = std::get_if<flows::run_step>(&*decision)) {
    tx.event.event = "step.succeeded";
    tx.event.detail = fmt::format("{} attempt {}: ok", row->action, attempt);
    tx.update_outbox.push_back(outbox_update{row->id, "done", true, {}, {}});
    tx.step_index = static_cast<int32_t>(next->index);
    tx.step_attempt = 1;
    tx.last_error.clear();
    auto next_row = step_row(snap.order.id, snap.order.version + 1, *s,
                             next->index, now, opts);
    tx.enqueue.push_back(next_row);
    out.dispatch = std::move(next_row);
  } else if (auto* retry = std::get_if<flows::retry_step>(&*decision)) {
    auto scale = 1.0 + opts.retry_jitter * (2.0 * jitter_sample - 1.0);
    auto delay = std::chrono::milliseconds{static_cast<int64_t>(
      std::max(0.0, static_cast<double>(retry->delay.count()) * scale))};
    auto why = describe(code, detail);
    tx.event.event = "step.failed";
    tx.event.detail
      = fmt::format("{} attempt {} failed ({}); attempt {} in "
                    "{}ms",
                    row->action, attempt, why, retry->attempt, delay.count());
    tx.step_attempt = static_cast<int32_t>(retry->attempt);
    tx.last_error = why;
    timer_row t;
    t.id = new_uuid();
    t.order_id = snap.order.id;
    t.kind = "step_retry";
    t.event = std::string{step_retry_event};
    t.due_at = to_iso(now + delay);
    tx.arm_timers.push_back(std::move(t));
    // Leased until the retry is due plus its run: recovery leaves it alone.
    tx.update_outbox.push_back(outbox_update{
      row->id, "pending", true, why, to_iso(now + delay + opts.step_lease)});
  } else {
    auto& end = std::get<flows::emit_event>(*decision);
    bool ok = end.event == flows::steps_done;
    auto why = ok ? std::string{} : describe(code, detail);
    tx.event.event = end.event;
    tx.event.detail = ok
                        ? fmt::format("{} attempt {}: ok", row->action, attempt)
                        : fmt::format("{} attempt {} failed ({}); giving up",
                                      row->action, attempt, why);
    tx.update_outbox.push_back(
      outbox_update{row->id, ok ? "done" : "failed", true, why, {}});
    auto after = flows::on_event(tpl, s->name, end.event);
    if (auto* tr = std::get_if<flows::transition>(&after)) {
      enter(tpl, snap, *tr, now, opts, tx, out);
      tx.last_error = why;
    } else {
      // The state does not handle steps.*: its steps were side effects (a
      // receipt); the order stays and waits for its other events.
      tx.step_index = static_cast<int32_t>(s->steps.size());
      tx.step_attempt = 0;
      tx.last_error = why;
    }
  }
  out.tx = std::move(tx);
  return out;
}

std::optional<outbox_row> pending_dispatch(const order_snapshot& snap) {
  if (snap.order.state == persistence::parked_state || snap.outbox.empty())
    return std::nullopt;
  auto waiting = std::any_of(snap.timers.begin(), snap.timers.end(),
                             [](auto& t) { return t.kind == "step_retry"; });
  if (waiting)
    return std::nullopt;
  return snap.outbox.front();
}

void mirror(order_snapshot& snap, const persistence::transition& tx,
            const persistence::transition_result& result, timestamp now) {
  auto now_text = to_iso(now);
  auto& o = snap.order;
  auto from = o.state;
  if (o.state != tx.state)
    o.state_entered_at = now_text;
  o.state = tx.state;
  o.version = result.version;
  o.step_index = tx.step_index;
  o.step_attempt = tx.step_attempt;
  o.last_error = tx.last_error;
  o.parked_from = tx.parked_from;
  o.updated_at = now_text;

  auto e = tx.event;
  e.order_id = o.id;
  e.seq = result.event_seq;
  e.from_state = from;
  e.to_state = tx.state;
  if (e.created_at.empty())
    e.created_at = now_text;
  snap.events.push_back(std::move(e));

  auto& timers = snap.timers;
  std::erase_if(timers, [&](auto& t) {
    return t.id == tx.fire_timer || tx.cancel_all_timers
           || std::find(tx.cancel_timers.begin(), tx.cancel_timers.end(), t.id)
                != tx.cancel_timers.end();
  });
  for (auto t : tx.arm_timers) {
    t.order_id = o.id;
    t.status = "pending";
    timers.push_back(std::move(t));
  }
  std::sort(timers.begin(), timers.end(), [](auto& x, auto& y) {
    return std::tie(x.due_at, x.id) < std::tie(y.due_at, y.id);
  });

  for (auto& u : tx.update_outbox) {
    auto i = std::find_if(snap.outbox.begin(), snap.outbox.end(),
                          [&](auto& x) { return x.id == u.id; });
    if (i == snap.outbox.end())
      continue;
    if (u.status != "pending") {
      if (u.status == "failed"
          && !std::string_view{u.last_error}.starts_with(
            persistence::cancelled_prefix)) {
        auto failed = *i;
        failed.status = "failed";
        failed.attempts += u.count_attempt ? 1 : 0;
        failed.last_error = u.last_error;
        failed.claimed_until.clear();
        failed.done_at = now_text;
        snap.last_failed = std::move(failed);
      }
      snap.outbox.erase(i);
      continue;
    }
    i->attempts += u.count_attempt ? 1 : 0;
    if (!u.last_error.empty())
      i->last_error = u.last_error;
    i->claimed_until = u.claimed_until;
  }
  if (!tx.reopen_outbox.empty() && snap.last_failed
      && snap.last_failed->id == tx.reopen_outbox) {
    auto x = std::move(*snap.last_failed);
    snap.last_failed.reset();
    x.status = "pending";
    x.claimed_until = tx.reopen_until;
    x.done_at.clear();
    snap.outbox.push_back(std::move(x));
  }
  for (auto x : tx.enqueue) {
    x.order_id = o.id;
    x.status = "pending";
    x.attempts = 0;
    if (x.created_at.empty())
      x.created_at = now_text;
    snap.outbox.push_back(std::move(x));
  }
}

} // namespace souk::orders
