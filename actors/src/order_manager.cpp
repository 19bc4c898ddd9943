// The order manager: order id -> live order actor. It activates an order on
// the first message for it, lets an idle one go (passivation), restarts a
// crashed one with backoff and jitter, and parks an order that keeps
// crashing in `needs_attention` instead of restarting it in a loop.

#include <deque>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "souk/actors/error.hpp"
#include "souk/core/log.hpp"

#include "engine_context.hpp"

namespace souk::actors::detail {

namespace {

struct live_order {
  caf::actor handle;
  uint64_t forwarded = 0; // messages sent to it; see idle_atom
};

struct crash_record {
  std::deque<timestamp> at; // within the restart window
  bool cooling = false;     // waiting to restart, or being parked
};

struct manager_state {
  context_ptr ctx;
  // Shared with the cleanup functor, which outlives the behavior.
  std::shared_ptr<std::unordered_map<std::string, live_order>> live
    = std::make_shared<std::unordered_map<std::string, live_order>>();
  std::map<caf::actor_addr, std::string> ids;
  std::unordered_map<std::string, crash_record> crashes;
  static inline const char* name = "souk.orders";
};

using manager_actor = caf::stateful_actor<manager_state>;

bool cooling(manager_actor* self, const std::string& id) {
  auto i = self->state.crashes.find(id);
  return i != self->state.crashes.end() && i->second.cooling;
}

// The order's actor, spawned if it has none; counts one forwarded message.
caf::actor forward(manager_actor* self, const std::string& id) {
  auto& st = self->state;
  auto i = st.live->find(id);
  if (i == st.live->end()) {
    auto h = spawn_order(self->system(), st.ctx, id, caf::actor{self});
    self->monitor(h);
    st.ids.emplace(h.address(), id);
    i = st.live->emplace(id, live_order{h, 0}).first;
    if (auto* m = st.ctx->metrics())
      m->actor_activated(st.live->size());
  }
  ++i->second.forwarded;
  return i->second.handle;
}

error cooling_error(const std::string& id) {
  error err{errc::unavailable,
            "order " + id + " is restarting after a crash; try again"};
  err.retry_after = std::chrono::seconds{1};
  return err;
}

void on_crash(manager_actor* self, const std::string& id,
              const caf::error& reason) {
  auto& st = self->state;
  auto& policy = st.ctx->opts.restart;
  auto now = st.ctx->now();
  // Forget orders whose last crash has left the window: their history no
  // longer counts, and the map stays as small as the recent trouble.
  std::erase_if(st.crashes, [&](const auto& kv) {
    return !kv.second.cooling && !kv.second.at.empty()
           && now - kv.second.at.back() > policy.window;
  });
  auto& rec = st.crashes[id];
  rec.at.push_back(now);
  while (!rec.at.empty() && now - rec.at.front() > policy.window)
    rec.at.pop_front();
  rec.cooling = true;
  auto n = static_cast<uint32_t>(rec.at.size());
  auto why = caf::to_string(reason);
  if (n > policy.max_restarts) {
    auto text = "crashed " + std::to_string(n) + " times within "
                + std::to_string(policy.window.count()) + "ms; last: " + why;
    log::error("order {}: {}; parking it in needs_attention", id, text);
    auto ctx = st.ctx;
    auto me = caf::actor{self};
    ctx->post([ctx, id, text, me] {
      commit_result r;
      r.err = persistence::order_repository{*ctx->db}.park(id, text, "engine",
                                                           &r.parked);
      caf::anon_send(me, parked_atom::value, id, std::move(r));
    });
    return;
  }
  if (auto* m = st.ctx->metrics())
    m->actor_restart("order");
  auto delay = policy.jittered(n, engine_context::sample());
  log::warn("order {}: actor stopped ({}); restart {} in {}ms", id, why, n,
            delay.count());
  self->delayed_send(self, delay, restart_atom::value, id);
}

uint32_t restarts_of(manager_actor* self, const std::string& id) {
  auto i = self->state.crashes.find(id);
  return i == self->state.crashes.end()
           ? 0
           : static_cast<uint32_t>(i->second.at.size());
}

// Asks every live order actor to describe itself; answers once all did or
// their `each` ran out (those are listed as not responsive).
caf::response_promise survey(manager_actor* self,
                             std::chrono::milliseconds each) {
  struct gathering {
    std::vector<order_inspection> found;
    size_t left = 0;
    caf::response_promise rp;
    void add(order_inspection x) {
      found.push_back(std::move(x));
      if (--left == 0) {
        std::sort(found.begin(), found.end(),
                  [](auto& a, auto& b) { return a.order_id < b.order_id; });
        rp.deliver(std::move(found));
      }
    }
  };
  auto g = std::make_shared<gathering>();
  g->rp = self->make_response_promise();
  auto& live = *self->state.live;
  if (live.empty()) {
    g->rp.deliver(std::vector<order_inspection>{});
    return g->rp;
  }
  g->left = live.size();
  for (auto& [id, entry] : live) {
    // The actor counts this message as received: count it as sent, or it
    // would never be passivated (see idle_atom).
    ++entry.forwarded;
    auto restarts = restarts_of(self, id);
    self->request(entry.handle, each, inspect_atom::value)
      .then(
        [g, restarts](order_inspection& x) {
          x.restarts = restarts;
          g->add(std::move(x));
        },
        [g, id = id, restarts](caf::error& e) {
          order_inspection x;
          x.order_id = id;
          x.restarts = restarts;
          x.responsive = false;
          x.last_error = "no answer to inspect: " + caf::to_string(e);
          g->add(std::move(x));
        });
  }
  return g->rp;
}

caf::behavior manager(manager_actor* self, context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  // Order actors are monitored, not linked: however the manager ends, tell
  // them, so a restarted manager never shares an order with an old actor.
  self->attach_functor([live = self->state.live](const caf::error& reason) {
    auto why = reason ? reason : caf::error{caf::exit_reason::user_shutdown};
    for (auto& [id, entry] : *live)
      entry.handle->enqueue(
        nullptr, caf::make_message_id(),
        caf::make_message(caf::exit_msg{entry.handle.address(), why}), nullptr);
    live->clear();
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.ids.find(msg.source);
    if (i == st.ids.end())
      return;
    auto id = i->second;
    st.ids.erase(i);
    auto j = st.live->find(id);
    if (j != st.live->end() && j->second.handle.address() == msg.source) {
      st.live->erase(j);
      if (auto* m = st.ctx->metrics())
        m->actors_live(st.live->size());
    }
    if (!msg.reason || msg.reason == caf::exit_reason::normal)
      return;
    on_crash(self, id, msg.reason);
  });
  return {
    [self](deliver_atom a, std::string& id, orders::event_input& in) {
      auto rp = self->make_response_promise();
      if (cooling(self, id))
        rp.deliver(to_caf(cooling_error(id)));
      else
        rp.delegate(forward(self, id), a, std::move(in));
      return rp;
    },
    [self](inspect_atom a, std::string& id) {
      auto rp = self->make_response_promise();
      if (cooling(self, id))
        rp.deliver(to_caf(cooling_error(id)));
      else
        rp.delegate(forward(self, id), a);
      return rp;
    },
    [self](timer_atom a, persistence::timer_row& t) {
      // While the order cools down its timer stays claimed; the claim runs
      // out and the timer comes back.
      if (!cooling(self, t.order_id))
        self->send(forward(self, t.order_id), a, std::move(t));
    },
    [self](resume_atom a, std::string& id) {
      if (!cooling(self, id))
        self->send(forward(self, id), a, false);
    },
    [self](idle_atom, std::string& id, uint64_t received) {
      // Passivate only if every message sent to the actor has reached it:
      // nothing is in flight, so nothing can be lost by stopping it.
      auto& st = self->state;
      auto i = st.live->find(id);
      if (i == st.live->end()
          || i->second.handle.address() != self->current_sender()
          || i->second.forwarded != received)
        return;
      self->send(i->second.handle, stop_atom::value);
      st.live->erase(i);
      if (auto* m = st.ctx->metrics())
        m->actor_passivated(st.live->size());
    },
    [self](restart_atom, std::string& id) {
      auto& st = self->state;
      auto i = st.crashes.find(id);
      if (i != st.crashes.end())
        i->second.cooling = false;
      // This node's own actor for the order crashed: its step's lease is
      // ours to take over at once.
      self->send(forward(self, id), resume_atom::value, true);
    },
    [self](parked_atom, std::string& id, commit_result& r) {
      auto& st = self->state;
      if (r.err) {
        // Could not even park it (the database is down?): try the whole
        // thing again later.
        log::error("order {}: cannot park: {}", id, r.err.detail);
        self->delayed_send(self, st.ctx->opts.restart.max, restart_atom::value,
                           id);
        return;
      }
      st.crashes.erase(id);
      if (auto* m = st.ctx->metrics(); m != nullptr && r.parked)
        m->parked("engine");
    },
    [self](list_atom) {
      std::vector<std::string> out;
      out.reserve(self->state.live->size());
      for (auto& [id, entry] : *self->state.live)
        out.push_back(id);
      std::sort(out.begin(), out.end());
      return out;
    },
    [self](peek_atom, std::string& id) {
      // Like inspect, but never activates: a passivated order stays so.
      auto rp = self->make_response_promise();
      auto i = self->state.live->find(id);
      if (i == self->state.live->end()) {
        rp.deliver(to_caf(error{errc::not_found, "order " + id
                                                   + " has no live actor "
                                                     "on this node"}));
      } else {
        ++i->second.forwarded;
        auto restarts = restarts_of(self, id);
        self
          ->request(i->second.handle, std::chrono::seconds{2},
                    inspect_atom::value)
          .then(
            [rp, restarts](order_inspection& x) mutable {
              x.restarts = restarts;
              rp.deliver(std::move(x));
            },
            [rp, id](caf::error& e) mutable {
              order_inspection x;
              x.order_id = id;
              x.responsive = false;
              x.last_error = "no answer to inspect: " + caf::to_string(e);
              rp.deliver(std::move(x));
            });
      }
      return rp;
    },
    [self](survey_atom, int64_t each_ms) {
      return survey(self, std::chrono::milliseconds{each_ms});
    },
    [self](lookup_atom, std::string& id) {
      auto i = self->state.live->find(id);
      return i == self->state.live->end() ? caf::actor{} : i->second.handle;
    },
  };
}

} // namespace

caf::actor spawn_manager(caf::actor_system& sys, context_ptr ctx) {
  return sys.spawn(manager, std::move(ctx));
}

} // namespace souk::actors::detail
