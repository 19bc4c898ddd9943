// One live order: rebuilds itself from the database, then turns each input
// (an event, a timer, a step's result) into one planned transaction, commits
// it off the scheduler threads and starts the side effect it names. A step
// of a local service (engine_options::local_services) is not started but
// run inside that transaction, with the transitions after it (run_inline).
// Inputs wait in the actor's own queue while a transaction is in flight, so
// the order sees them one at a time in arrival order.

#include <algorithm>
#include <deque>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include "souk/actors/error.hpp"
#include "souk/core/log.hpp"

#include "engine_context.hpp"

namespace souk::actors::detail {

namespace {

using persistence::order_snapshot;

struct work {
  enum kind_t { on_event, on_timer, on_step, on_resume } kind = on_event;
  orders::event_input in;
  persistence::timer_row timer;
  std::string outbox_id;
  action_result result;
  caf::response_promise rp; // for events; may be empty
  bool reloaded = false;    // planned again after a reload already
  bool force = false;       // resume: take the step's lease even if held
};

struct order_state {
  context_ptr ctx;
  std::string id;
  caf::actor manager;
  std::optional<order_snapshot> snap;
  orders::template_ptr tpl;
  bool loading = true;
  bool busy = false; // a transaction or lease is in flight
  std::deque<work> queue;
  std::optional<work> current;
  std::optional<orders::plan> current_plan;
  std::string in_flight;                // outbox id a service is running
  uint64_t received = 0;                // messages the manager forwarded
  std::chrono::milliseconds backoff{0}; // while the database fails
  std::vector<caf::response_promise> inspections; // asked while loading
  // The last input that was work, not a look (an inspect): idleness is
  // measured from it, so an operator polling /admin/actors never keeps an
  // order in memory.
  timestamp last_active{};
  static inline const char* name = "souk.order";
};

using order_actor = caf::stateful_actor<order_state>;

void process(order_actor* self);

void reply(work& w, const expected<orders::outcome>& x) {
  if (w.kind != work::on_event || w.rp.pending() == false)
    return;
  if (x)
    w.rp.deliver(*x);
  else
    w.rp.deliver(to_caf(x.err()));
}

bool transient(const error& err) {
  return err.code == errc::database || err.code == errc::unavailable
         || err.code == errc::timeout;
}

// Answers every event still waiting in the actor: CAF 0.17 has no broken
// promises, so a caller would otherwise only see its request time out.
void fail_queued(order_actor* self, const error& err) {
  auto why = error{errc::unavailable,
                   "order " + self->state.id + " stopped: " + err.detail};
  why.retry_after = std::chrono::seconds{1};
  for (auto& w : self->state.queue)
    reply(w, why);
  self->state.queue.clear();
}

void load(order_actor* self);

// Waits with backoff (doubling from 500ms to 30s) after a transient
// database failure, then reloads (`reload`) or just carries on.
void pause(order_actor* self, const error& err, bool reload = false) {
  auto& st = self->state;
  using std::chrono::milliseconds;
  st.backoff
    = std::clamp(st.backoff * 2, milliseconds{500}, milliseconds{30'000});
  log::warn("order {}: {}; trying again in {}ms", st.id, err.detail,
            st.backoff.count());
  st.busy = true;
  self->delayed_send(self, st.backoff, wake_atom::value, reload);
}

void load(order_actor* self) {
  auto& st = self->state;
  st.loading = true;
  auto ctx = st.ctx;
  auto id = st.id;
  auto tpl = st.tpl;
  auto me = caf::actor{self};
  ctx->post([ctx, id, tpl, me] {
    load_result r;
    auto snap = persistence::order_repository{*ctx->db}.load(id);
    if (!snap) {
      r.err = snap.err();
    } else if (snap->has_value()) {
      r.snap = std::move(**snap);
      if (tpl && tpl->hash == r.snap->order.flow_hash) {
        r.tpl = tpl;
      } else if (auto t = ctx->flows->pinned(r.snap->order.flow_hash)) {
        r.tpl = *t;
      } else {
        r.err = t.err();
      }
    }
    caf::anon_send(me, loaded_atom::value, std::move(r));
  });
}

order_inspection inspect(order_actor* self) {
  auto& st = self->state;
  auto& o = st.snap->order;
  order_inspection x;
  x.order_id = o.id;
  x.flow = o.flow;
  x.flow_version = o.flow_version;
  x.flow_hash = o.flow_hash;
  x.state = o.state;
  x.version = o.version;
  x.state_entered_at = o.state_entered_at;
  if (auto t = parse_iso(o.state_entered_at))
    x.ms_in_state = (st.ctx->now() - *t).count();
  x.step_index = o.step_index;
  x.step_attempt = o.step_attempt;
  if (auto* s = st.tpl->find(o.state);
      s != nullptr && o.step_attempt > 0
      && static_cast<size_t>(o.step_index) < s->steps.size())
    x.step_action = s->steps[static_cast<size_t>(o.step_index)].action;
  x.last_error = o.last_error;
  x.parked_from = o.parked_from;
  x.timers = st.snap->timers;
  x.mailbox_size = self->mailbox().size();
  x.step_in_flight = !st.in_flight.empty();
  x.queued = st.queue.size();
  return x;
}

bool idle(order_actor* self) {
  auto& st = self->state;
  return !st.loading && !st.busy && st.queue.empty() && st.in_flight.empty();
}

// Done for good (terminal, or parked): leave memory at once rather than
// after the idle timeout.
void passivate_if_finished(order_actor* self) {
  auto& st = self->state;
  if (!idle(self) || !st.snap)
    return;
  auto* s = st.tpl->find(st.snap->order.state);
  // A parked order waits for a person, however long that takes.
  bool finished = st.snap->order.state == persistence::parked_state
                  || (s != nullptr && s->terminal);
  if (finished && st.snap->outbox.empty())
    self->send(st.manager, idle_atom::value, st.id, st.received);
}

void on_step_done(order_actor* self, const std::string& outbox_id,
                  action_result r) {
  auto& st = self->state;
  st.last_active = st.ctx->now();
  // `in_flight` stays set until this answer is planned, so a resume queued
  // before it cannot start the same step a second time.
  work w;
  w.kind = work::on_step;
  w.outbox_id = outbox_id;
  w.result = std::move(r);
  st.queue.push_back(std::move(w));
  process(self);
}

void park(order_actor* self, std::string reason) {
  auto& st = self->state;
  log::warn("order {}: parked in needs_attention: {}", st.id, reason);
  st.busy = true;
  auto ctx = st.ctx;
  auto id = st.id;
  auto me = caf::actor{self};
  ctx->post([ctx, id, reason, me] {
    commit_result r;
    r.err = persistence::order_repository{*ctx->db}.park(id, reason, "engine",
                                                         &r.parked);
    caf::anon_send(me, parked_atom::value, std::move(r));
  });
}

void dispatch(order_actor* self, const persistence::outbox_row& row) {
  auto& st = self->state;
  auto service = row.action.substr(0, row.action.find('.'));
  if (!st.ctx->opts.services.contains(service))
    return park(self,
                "no service '" + service + "' is installed for " + row.action);
  st.in_flight = row.id;
  auto handle = st.ctx->services->get(service);
  if (!handle) {
    self->send(self, step_atom::value, row.id,
               action_result{errc::unavailable,
                             "service '" + service + "' is not running"});
    return;
  }
  action_call call{st.id,
                   row.action,
                   row.params,
                   row.idempotency_key,
                   static_cast<uint32_t>(st.snap->order.step_attempt),
                   st.snap->order};
  auto id = row.id;
  self->request(handle, st.ctx->opts.step_timeout, run_atom::value, call)
    .then(
      [self, id](action_result& r) { on_step_done(self, id, std::move(r)); },
      [self, id](caf::error& e) {
        auto err = from_caf(e);
        if (e == caf::sec::request_receiver_down)
          err = error{errc::unavailable, "the service stopped"};
        on_step_done(self, id, action_result{err.code, err.detail});
      });
}

orders::plan plan_for(order_actor* self, const work& w) {
  auto& st = self->state;
  auto now = st.ctx->now();
  auto& opts = st.ctx->opts.plan;
  switch (w.kind) {
  case work::on_event:
    return orders::plan_event(*st.tpl, *st.snap, w.in, now, opts);
  case work::on_timer:
    return orders::plan_timer(*st.tpl, *st.snap, w.timer.id, now, opts);
  case work::on_step:
    return orders::plan_step_result(*st.tpl, *st.snap, w.outbox_id,
                                    w.result.code, w.result.detail, now, opts,
                                    engine_context::sample());
  case work::on_resume:
    break;
  }
  return {};
}

void lease_and_dispatch(order_actor* self, persistence::outbox_row row,
                        bool force) {
  auto& st = self->state;
  st.busy = true;
  auto ctx = st.ctx;
  auto now = ctx->now();
  row.claimed_until = to_iso(now + ctx->opts.plan.step_lease);
  // Unless forced (a restart after this node's own actor crashed), a lease
  // that still runs means someone else runs the step: leave it to them.
  auto expired_by = force ? std::string{} : to_iso(now);
  auto me = caf::actor{self};
  auto id = st.id;
  ctx->post([ctx, id, row, expired_by, me] {
    auto err = persistence::order_repository{*ctx->db}.lease_outbox(
      id, row.id, row.claimed_until, expired_by);
    caf::anon_send(me, leased_atom::value, row.id,
                   action_result{err.code, err.detail});
  });
}

// The local service running steps of `action`, or null.
const local_service* local_step(const engine_context& ctx,
                                const std::string& action) {
  auto& local = ctx.opts.local_services;
  auto it = local.find(action.substr(0, action.find('.')));
  return it == local.end() ? nullptr : &it->second;
}

// On a worker: commits `tx`, with the caller's writes `with` (an event's)
// in the same transaction.
expected<persistence::transition_result>
apply_with(const engine_context& ctx, const persistence::transition& tx,
           const std::function<status()>& with) {
  persistence::order_repository repo{*ctx.db};
  if (!with)
    return repo.apply(tx);
  persistence::transition_result out;
  auto st = ctx.db->transact([&](soci::session&) -> status {
    auto applied = repo.apply(tx);
    if (!applied)
      return applied.err();
    out = *applied;
    return with();
  });
  if (st)
    return st;
  return out;
}

// Takes the row `id` out of `t`'s enqueued rows, dated `now` as `t` would
// have written it; false if it is not there.
bool take_enqueued(persistence::transition& t, const std::string& id,
                   persistence::outbox_row& out, timestamp now) {
  auto i = std::find_if(t.enqueue.begin(), t.enqueue.end(),
                        [&](auto& x) { return x.id == id; });
  if (i == t.enqueue.end())
    return false;
  out = std::move(*i);
  t.enqueue.erase(i);
  if (out.created_at.empty())
    out.created_at = to_iso(now);
  return true;
}

// `t` (a step's success) as written when its step's row was never written:
// the row is enqueued already done instead of updated. Fails when `t` does
// not end that row as done.
status write_done(persistence::transition& t, persistence::outbox_row row) {
  auto u = std::find_if(t.update_outbox.begin(), t.update_outbox.end(),
                        [&](auto& x) { return x.id == row.id; });
  if (u == t.update_outbox.end() || u->status != "done")
    return error{errc::internal,
                 "the success of " + row.action + " does not end its step"};
  row.status = "done";
  row.attempts = u->count_attempt ? 1 : 0;
  row.last_error = u->last_error;
  row.claimed_until.clear();
  t.update_outbox.erase(u);
  t.enqueue.insert(t.enqueue.begin(), std::move(row));
  return {};
}

// On a worker: one transaction with `tx` (if any) and the caller's writes
// `with`, the local step `first`, the transition recording its success, and
// so on while the next step is local too (until a step whose service
// commits after it). If any part fails, all of it rolls back; `tx` is then
// committed with `with` alone, and the step runs the usual way.
//
// A step's outbox row that is enqueued and ended inside this transaction
// is written once, already done, when its step has succeeded: a pending row
// is for a step still to run after a commit, and nothing reads it before
// this one commits. The order's snapshot still sees the row enqueued, then
// ended, as the planner planned it.
inline_result run_inline(const engine_context& ctx,
                         const std::optional<persistence::transition>& tx,
                         const std::function<status()>& with,
                         order_snapshot snap, const flows::flow_template& tpl,
                         persistence::outbox_row first) {
  inline_result r;
  r.led = tx.has_value();
  persistence::order_repository repo{*ctx.db};
  auto together = ctx.db->transact([&](soci::session&) -> status {
    // The row of the step about to run here, held back until it is done.
    std::optional<persistence::outbox_row> unwritten;
    if (tx) {
      auto written = *tx;
      persistence::outbox_row row;
      if (local_step(ctx, first.action)
          && take_enqueued(written, first.id, row, ctx.now()))
        unwritten = std::move(row);
      auto applied = repo.apply(written);
      if (!applied)
        return applied.err();
      r.first = *applied;
      orders::mirror(snap, *tx, *applied, ctx.now());
      if (with)
        if (auto failed = with())
          return failed;
    }
    std::optional<persistence::outbox_row> next = first;
    while (next) {
      auto* svc = local_step(ctx, next->action);
      if (svc == nullptr)
        break;
      action_call call{snap.order.id,
                       next->action,
                       next->params,
                       next->idempotency_key,
                       static_cast<uint32_t>(snap.order.step_attempt),
                       snap.order};
      if (auto failed = svc->run(call))
        return failed;
      auto p
        = orders::plan_step_result(tpl, snap, next->id, errc::ok, {}, ctx.now(),
                                   ctx.opts.plan, engine_context::sample());
      if (!p.tx)
        return error{errc::internal, "the success of " + next->action
                                       + " planned no transition"};
      auto written = *p.tx;
      if (unwritten) {
        if (auto failed = write_done(written, std::move(*unwritten)))
          return failed;
        unwritten.reset();
      }
      persistence::outbox_row row;
      if (!svc->commits_after && p.dispatch
          && local_step(ctx, p.dispatch->action)
          && take_enqueued(written, p.dispatch->id, row, ctx.now()))
        unwritten = std::move(row);
      auto done = repo.apply(written);
      if (!done)
        return done.err();
      orders::mirror(snap, *p.tx, *done, ctx.now());
      r.steps.push_back({next->action, std::move(*p.tx), *done});
      next = std::move(p.dispatch);
      if (svc->commits_after)
        break;
    }
    // Every row held back was written done by its step's success; one still
    // held would be a step the loop left without running (never, as a held
    // row's step is local and the loop only stops after a commits_after
    // step, whose next row is never held).
    if (unwritten)
      return error{errc::internal,
                   unwritten->action + " was held back and never ran"};
    r.dispatch = std::move(next);
    return {};
  });
  if (!together)
    return r;
  log::debug("order {}: {} did not commit inline ({}); it runs the usual way",
             snap.order.id, first.action, together.detail);
  r.steps.clear();
  r.dispatch = std::move(first);
  if (tx) {
    auto alone = apply_with(ctx, *tx, with);
    if (alone)
      r.first = *alone;
    else
      r.err = alone.err();
  }
  return r;
}

// Runs `first` (a local step) and what follows it inline; `tx`, if any,
// commits in the same transaction. The order is busy meanwhile.
void start_inline(order_actor* self, std::optional<persistence::transition> tx,
                  std::function<status()> with, persistence::outbox_row first) {
  auto& st = self->state;
  st.busy = true;
  auto ctx = st.ctx;
  auto me = caf::actor{self};
  ctx->post([ctx, tx = std::move(tx), with = std::move(with), snap = *st.snap,
             tpl = st.tpl, first = std::move(first), me]() mutable {
    caf::anon_send(
      me, inline_atom::value,
      run_inline(*ctx, tx, with, std::move(snap), *tpl, std::move(first)));
  });
}

void process(order_actor* self) {
  auto& st = self->state;
  while (!st.loading && !st.busy && !st.queue.empty()) {
    auto w = std::move(st.queue.front());
    st.queue.pop_front();
    if (w.kind == work::on_resume) {
      if (auto row = orders::pending_dispatch(*st.snap);
          row && st.in_flight.empty())
        lease_and_dispatch(self, *row, w.force);
      continue;
    }
    if (w.kind == work::on_step && st.in_flight == w.outbox_id)
      st.in_flight.clear();
    auto p = plan_for(self, w);
    if (!p.tx) {
      if (p.result == orders::outcome::stale && w.kind == work::on_timer
          && !w.reloaded) {
        // A timer we do not know: another node may have moved the order.
        // Look again once; a timer still unknown after that is not ours.
        w.reloaded = true;
        st.queue.push_front(std::move(w));
        load(self);
        return;
      }
      if (p.result == orders::outcome::ignored && w.kind == work::on_event
          && !w.reloaded) {
        // Refused without a trace (an operator's action, a refund asked
        // in the wrong state): someone may have changed the order behind
        // this actor (payments park orders in the database), so look
        // again once before saying no.
        w.reloaded = true;
        st.queue.push_front(std::move(w));
        load(self);
        return;
      }
      reply(w, p.result);
      continue;
    }
    st.busy = true;
    auto tx = *p.tx;
    std::function<status()> with;
    if (w.kind == work::on_event && w.in.with)
      with = [f = w.in.with, result = p.result, db = st.ctx->db] {
        return f(result, *db);
      };
    auto local = p.dispatch && local_step(*st.ctx, p.dispatch->action);
    auto first = local ? p.dispatch : std::nullopt;
    st.current = std::move(w);
    st.current_plan = std::move(p);
    if (first) {
      start_inline(self, std::move(tx), std::move(with), std::move(*first));
      continue;
    }
    auto ctx = st.ctx;
    auto me = caf::actor{self};
    ctx->post([ctx, tx, with = std::move(with), me] {
      commit_result r;
      auto applied = apply_with(*ctx, tx, with);
      if (applied)
        r.result = *applied;
      else
        r.err = applied.err();
      caf::anon_send(me, commit_atom::value, std::move(r));
    });
  }
  passivate_if_finished(self);
}

// Counts what a committed transition did, before `mirror` applies it.
void count(order_actor* self, const work& w,
           const persistence::transition& tx) {
  auto* m = self->state.ctx->metrics();
  if (m == nullptr)
    return;
  auto& o = self->state.snap->order;
  if (tx.state != o.state)
    m->transition(o.flow, o.state, tx.state);
  if (w.kind != work::on_step)
    return;
  auto& outbox = self->state.snap->outbox;
  auto row = std::find_if(outbox.begin(), outbox.end(),
                          [&](auto& x) { return x.id == w.outbox_id; });
  if (row == outbox.end())
    return;
  auto retried = std::any_of(tx.arm_timers.begin(), tx.arm_timers.end(),
                             [](auto& t) { return t.kind == "step_retry"; });
  m->step(o.flow, row->action,
          w.result.code == errc::ok ? "succeeded"
          : retried                 ? "retried"
                                    : "failed");
}

// Tells the node that the order changed (its long polls look again).
void changed(order_actor* self) {
  if (auto& fn = self->state.ctx->opts.on_change)
    fn(self->state.id);
}

void on_committed(order_actor* self, commit_result& r) {
  auto& st = self->state;
  st.busy = false;
  auto w = std::move(*st.current);
  auto p = std::move(*st.current_plan);
  st.current.reset();
  st.current_plan.reset();
  if (!r.err) {
    count(self, w, *p.tx);
    orders::mirror(*st.snap, *p.tx, r.result, st.ctx->now());
    changed(self);
    reply(w, p.result);
    if (p.dispatch)
      dispatch(self, *p.dispatch);
    return process(self);
  }
  if (r.err.code == errc::conflict && !w.reloaded) {
    // Someone else moved the order (another node, a second claim of a
    // timer): rebuild from the rows and plan this input again.
    w.reloaded = true;
    st.queue.push_front(std::move(w));
    return load(self);
  }
  if (w.kind == work::on_event) {
    reply(w, r.err);
    return process(self);
  }
  if (transient(r.err)) {
    // The database is down or busy: not this order's fault, so no crash
    // (crashes count toward parking). Keep the input and try again later.
    st.queue.push_front(std::move(w));
    return pause(self, r.err);
  }
  // An internal input that cannot be recorded for another reason (a second
  // conflict, a refused row). Its outbox row or timer is still pending, so
  // a restart (reload + resume) picks it up; crashing hands that to the
  // manager's supervision, which parks the order if it keeps happening.
  log::warn("order {}: {} ({})", st.id, r.err.detail, to_string(r.err.code));
  fail_queued(self, r.err);
  self->quit(to_caf(r.err));
}

void on_inlined(order_actor* self, inline_result& r) {
  auto& st = self->state;
  if (r.led && (r.err || r.steps.empty())) {
    // The transition committed alone (or not at all): on the usual way.
    commit_result c;
    c.err = std::move(r.err);
    c.result = r.first;
    return on_committed(self, c);
  }
  st.busy = false;
  if (r.led) {
    auto w = std::move(*st.current);
    auto p = std::move(*st.current_plan);
    st.current.reset();
    st.current_plan.reset();
    count(self, w, *p.tx);
    orders::mirror(*st.snap, *p.tx, r.first, st.ctx->now());
    reply(w, p.result);
  }
  for (auto& s : r.steps) {
    if (auto* m = st.ctx->metrics(); m != nullptr) {
      auto& o = st.snap->order;
      if (s.tx.state != o.state)
        m->transition(o.flow, o.state, s.tx.state);
      m->step(o.flow, s.action, "succeeded");
    }
    orders::mirror(*st.snap, s.tx, s.result, st.ctx->now());
  }
  if (!r.steps.empty()) // a lot led by a transition has steps (see above)
    changed(self);
  if (r.dispatch) {
    // Local steps after one that commits on its own run in a transaction
    // of their own; one that failed inline goes to its service actor.
    if (!r.steps.empty() && local_step(*st.ctx, r.dispatch->action) != nullptr)
      return start_inline(self, std::nullopt, nullptr, std::move(*r.dispatch));
    dispatch(self, *r.dispatch);
  }
  process(self);
}

void on_loaded(order_actor* self, load_result& r) {
  auto& st = self->state;
  if (r.err && transient(r.err)) {
    st.loading = false;
    st.busy = true; // nothing runs until the retry reloads
    return pause(self, r.err, true);
  }
  if (r.err) {
    for (auto& w : st.queue)
      reply(w, r.err);
    for (auto& rp : st.inspections)
      rp.deliver(to_caf(r.err));
    st.queue.clear();
    log::warn("order {}: cannot rebuild: {}", st.id, r.err.detail);
    return self->quit(to_caf(r.err));
  }
  if (!r.snap) {
    auto missing = error{errc::not_found, "no order " + st.id};
    for (auto& w : st.queue)
      reply(w, missing);
    for (auto& rp : st.inspections)
      rp.deliver(to_caf(missing));
    return self->quit();
  }
  bool first = !st.snap.has_value();
  st.backoff = std::chrono::milliseconds{0};
  st.snap = std::move(r.snap);
  st.tpl = std::move(r.tpl);
  st.loading = false;
  for (auto& rp : st.inspections)
    rp.deliver(inspect(self));
  st.inspections.clear();
  if (first) {
    // A rebuilt order picks up the side effect it was running.
    work w;
    w.kind = work::on_resume;
    st.queue.push_front(std::move(w));
  }
  process(self);
}

// How often an order actor checks whether it has been idle long enough.
std::chrono::milliseconds idle_tick(const engine_context& ctx) {
  return std::max(ctx.opts.idle_timeout / 4, std::chrono::milliseconds{10});
}

caf::behavior order(order_actor* self, context_ptr ctx, std::string id,
                    caf::actor manager) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.id = std::move(id);
  st.manager = std::move(manager);
  st.last_active = st.ctx->now();
  load(self);
  self->delayed_send(self, idle_tick(*st.ctx), idle_tick_atom::value);
  auto enqueue = [self](work w) {
    ++self->state.received;
    self->state.last_active = self->state.ctx->now();
    self->state.queue.push_back(std::move(w));
    process(self);
  };
  return {
    [self, enqueue](deliver_atom, orders::event_input& in) {
      work w;
      w.kind = work::on_event;
      w.in = std::move(in);
      w.rp = self->make_response_promise();
      auto rp = w.rp;
      enqueue(std::move(w));
      return rp;
    },
    [enqueue](timer_atom, persistence::timer_row& t) {
      work w;
      w.kind = work::on_timer;
      w.timer = std::move(t);
      enqueue(std::move(w));
    },
    [enqueue](resume_atom, bool force) {
      work w;
      w.kind = work::on_resume;
      w.force = force;
      enqueue(std::move(w));
    },
    [self](inspect_atom) -> caf::result<order_inspection> {
      ++self->state.received;
      if (self->state.loading) {
        auto rp = self->make_response_promise();
        self->state.inspections.push_back(rp);
        return rp;
      }
      auto x = inspect(self);
      // A finished order whose passivation a look raced with leaves now.
      passivate_if_finished(self);
      return x;
    },
    [self](idle_tick_atom) {
      auto& s = self->state;
      auto idle_for = s.ctx->now() - s.last_active;
      if (idle(self) && idle_for >= s.ctx->opts.idle_timeout)
        self->send(s.manager, idle_atom::value, s.id, s.received);
      self->delayed_send(self, idle_tick(*s.ctx), idle_tick_atom::value);
    },
    [self](stop_atom) { self->quit(); },
    [self](wake_atom, bool reload) {
      self->state.busy = false;
      if (reload)
        return load(self);
      process(self);
    },
    [self](loaded_atom, load_result& r) { on_loaded(self, r); },
    [self](commit_atom, commit_result& r) { on_committed(self, r); },
    [self](inline_atom, inline_result& r) { on_inlined(self, r); },
    [self](parked_atom, commit_result& r) {
      self->state.busy = false;
      if (r.err) {
        log::warn("order {}: cannot park: {}", self->state.id, r.err.detail);
        fail_queued(self, r.err);
        return self->quit(to_caf(r.err));
      }
      self->state.in_flight.clear();
      if (auto* m = self->state.ctx->metrics(); m != nullptr && r.parked)
        m->parked("engine");
      load(self);
    },
    [self](step_atom, std::string& outbox_id, action_result& r) {
      on_step_done(self, outbox_id, std::move(r));
    },
    [self](leased_atom, std::string& outbox_id, action_result& r) {
      // The lease a resumed step takes before it runs; a row that is not
      // pending any more is not run.
      auto& s = self->state;
      s.busy = false;
      if (r.code == errc::ok) {
        auto row = std::find_if(s.snap->outbox.begin(), s.snap->outbox.end(),
                                [&](auto& x) { return x.id == outbox_id; });
        if (row != s.snap->outbox.end())
          dispatch(self, *row);
      }
      process(self);
    },
  };
}

} // namespace

caf::actor spawn_order(caf::actor_system& sys, context_ptr ctx, std::string id,
                       caf::actor manager) {
  return sys.spawn(order, std::move(ctx), std::move(id), std::move(manager));
}

} // namespace souk::actors::detail
