// The timer actor: claims due rows of `timers` (with a lease, so several
// nodes split them) and hands each to the order manager; and sweeps for side
// effects whose lease ran out (a crashed node's, or this node's before a
// restart) so their orders resume. Its first sweep is start-up recovery.

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "souk/core/log.hpp"

#include "engine_context.hpp"

namespace souk::actors::detail {

namespace {

struct timer_state {
  context_ptr ctx;
  bool claiming = false;
  bool sweeping = false;
  std::string sweep_after; // paging cursor within one sweep
  static inline const char* name = "souk.timers";
};

using timer_actor = caf::stateful_actor<timer_state>;

caf::behavior timers(timer_actor* self, context_ptr shared) {
  self->state.ctx = std::move(shared);
  self->send(self, sweep_atom::value);
  self->send(self, poll_atom::value);
  return {
    [self](poll_atom) {
      auto& st = self->state;
      if (st.claiming)
        return;
      st.claiming = true;
      auto ctx = st.ctx;
      auto me = caf::actor{self};
      ctx->post([ctx, me] {
        found_rows r;
        auto claimed = persistence::order_repository{*ctx->db}.claim_due_timers(
          ctx->opts.node_id, to_iso(ctx->now()), ctx->opts.timer_lease,
          ctx->opts.batch);
        if (claimed)
          r.timers = std::move(*claimed);
        else
          r.err = claimed.err();
        caf::anon_send(me, claimed_atom::value, std::move(r));
      });
    },
    [self](claimed_atom, found_rows& r) {
      auto& st = self->state;
      st.claiming = false;
      if (r.err)
        log::warn("timers: cannot claim due timers: {}", r.err.detail);
      auto manager = st.ctx->services->get(manager_name);
      for (auto& t : r.timers) {
        if (!st.ctx->opts.before_timer) {
          self->send(manager, timer_atom::value, std::move(t));
          continue;
        }
        auto& check = st.ctx->opts.before_timer;
        check(t, [manager, t]() mutable {
          caf::anon_send(manager, timer_atom::value, std::move(t));
        });
      }
      // A full batch means more are due: claim again at once. Otherwise
      // pause, so a SQLite writer never hogs the file lock.
      if (!r.err && r.timers.size() == st.ctx->opts.batch)
        self->send(self, poll_atom::value);
      else
        self->delayed_send(self, st.ctx->opts.timer_poll, poll_atom::value);
    },
    [self](sweep_atom) {
      auto& st = self->state;
      if (st.sweeping)
        return;
      st.sweeping = true;
      auto ctx = st.ctx;
      auto after = st.sweep_after;
      auto me = caf::actor{self};
      ctx->post([ctx, after, me] {
        found_rows r;
        auto ids
          = persistence::order_repository{*ctx->db}.orders_needing_resume(
            to_iso(ctx->now()), ctx->opts.batch, after);
        if (ids)
          r.order_ids = std::move(*ids);
        else
          r.err = ids.err();
        caf::anon_send(me, swept_atom::value, std::move(r));
      });
    },
    [self](swept_atom, found_rows& r) {
      auto& st = self->state;
      st.sweeping = false;
      if (r.err)
        log::warn("timers: cannot look for unfinished side effects: {}",
                  r.err.detail);
      auto manager = st.ctx->services->get(manager_name);
      for (auto& id : r.order_ids)
        self->send(manager, resume_atom::value, id);
      if (!r.err && r.order_ids.size() == st.ctx->opts.batch) {
        st.sweep_after = r.order_ids.back();
        self->send(self, sweep_atom::value);
      } else {
        st.sweep_after.clear();
        self->delayed_send(self, st.ctx->opts.sweep_interval,
                           sweep_atom::value);
      }
    },
  };
}

} // namespace

caf::actor spawn_timers(caf::actor_system& sys, context_ptr ctx) {
  return sys.spawn(timers, std::move(ctx));
}

} // namespace souk::actors::detail
