// A service actor in front of blocking code. Work runs on a worker pool; the
// result comes back to the actor as a message and the actor answers the
// caller, so response promises are only ever touched by their own actor.

#include "souk/actors/blocking_service.hpp"

#include <algorithm>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "souk/actors/order_messages.hpp"
#include "souk/actors/services.hpp"
#include "souk/core/log.hpp"
#include "souk/core/worker_pool.hpp"

namespace souk::actors {

namespace {

using nudge_atom = caf::atom_constant<caf::atom("nudge")>;
using round_atom = caf::atom_constant<caf::atom("rounddone")>;
using ran_atom = caf::atom_constant<caf::atom("ran")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

struct blocking_state {
  std::shared_ptr<blocking_service_options> opts;
  size_t rounds = 0;  // running now
  bool again = false; // nudged while as many rounds as allowed ran
  bool armed = false; // the poll timer is set
  uint64_t next_id = 1;
  std::map<uint64_t, caf::response_promise> waiting;
  static inline const char* name = "souk.service";
};

using blocking_actor_t = caf::stateful_actor<blocking_state>;

void start_round(blocking_actor_t* self) {
  auto& st = self->state;
  if (!st.opts->round)
    return;
  if (st.rounds >= std::max<size_t>(1, st.opts->rounds_at_once)) {
    st.again = true;
    return;
  }
  ++st.rounds;
  auto me = caf::actor{self};
  // Jobs hold the work itself, never the options: those hold the pool, and
  // a job the pool still queues must not keep the pool alive.
  st.opts->workers->post([round = st.opts->round, name = st.opts->name, me] {
    size_t done = 0;
    try {
      done = round();
    } catch (const std::exception& e) {
      log::error("service {}: background round failed: {}", name, e.what());
    }
    caf::anon_send(me, round_atom::value, static_cast<uint64_t>(done));
  });
}

caf::behavior blocking(blocking_actor_t* self,
                       std::shared_ptr<blocking_service_options> opts) {
  self->state.opts = opts;
  if (opts->round)
    self->send(self, nudge_atom::value);
  return {
    [self](run_atom, action_call& call) -> caf::result<action_result> {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      auto id = st.next_id++;
      st.waiting.emplace(id, rp);
      auto me = caf::actor{self};
      st.opts->workers->post([run = st.opts->run, me, id, call] {
        status result;
        try {
          result = run(call);
        } catch (const std::exception& e) {
          result = error{errc::internal, e.what()};
        }
        caf::anon_send(me, ran_atom::value, id,
                       action_result{result.code, result.detail});
      });
      return rp;
    },
    [self](ran_atom, uint64_t id, action_result& r) {
      auto& w = self->state.waiting;
      if (auto it = w.find(id); it != w.end()) {
        it->second.deliver(std::move(r));
        w.erase(it);
      }
    },
    [self](nudge_atom) { start_round(self); },
    [self](tick_atom) {
      self->state.armed = false;
      start_round(self);
    },
    [self](round_atom, uint64_t done) {
      auto& st = self->state;
      --st.rounds;
      if (done >= st.opts->batch) {
        // A full batch: more is due (a backlog, after an outage or a
        // restart), so run as many rounds as may run at once.
        st.again = false;
        while (st.rounds < std::max<size_t>(1, st.opts->rounds_at_once))
          start_round(self);
        return;
      }
      if (st.again) {
        st.again = false;
        return start_round(self);
      }
      // One poll timer at a time, however many nudges came in between.
      if (st.rounds == 0 && !st.armed) {
        st.armed = true;
        self->delayed_send(self, st.opts->poll, tick_atom::value);
      }
    },
  };
}

} // namespace

child_spec blocking_service(blocking_service_options opts) {
  auto shared = std::make_shared<blocking_service_options>(std::move(opts));
  return child_spec{"service." + shared->name,
                    [shared](caf::actor_system& sys) {
                      auto h = sys.spawn(blocking, shared);
                      if (shared->directory)
                        shared->directory->put(shared->name, h);
                      return h;
                    }};
}

void nudge(const service_directory& dir, const std::string& name) {
  if (auto h = dir.get(name))
    caf::anon_send(h, nudge_atom::value);
}

} // namespace souk::actors
