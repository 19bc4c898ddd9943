#include "souk/actors/heartbeat.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/spawn_options.hpp>

#include "souk/actors/error.hpp"
#include "souk/core/log.hpp"
#include "souk/persistence/nodes.hpp"

namespace souk::actors {

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

caf::behavior heartbeat(caf::event_based_actor* self,
                        std::shared_ptr<persistence::database> db,
                        std::string node_id, std::chrono::milliseconds interval,
                        std::function<void(const error&)> fenced) {
  self->send(self, tick_atom::value);
  return {
    [self, db, node_id, interval, fenced](tick_atom) {
      if (auto err = persistence::node_repository{*db}.heartbeat(node_id)) {
        if (err.code == errc::conflict) {
          log::critical("node heartbeat: {}", err.detail);
          if (fenced)
            fenced(err);
        } else {
          log::warn("node heartbeat failed: {}", err.detail);
        }
        self->quit(to_caf(err));
        return;
      }
      self->delayed_send(self, interval, tick_atom::value);
    },
  };
}

} // namespace

child_spec node_heartbeat(std::shared_ptr<persistence::database> db,
                          std::string node_id,
                          std::chrono::milliseconds interval,
                          std::function<void(const error&)> fenced) {
  return child_spec{"node_heartbeat",
                    [db = std::move(db), node_id = std::move(node_id), interval,
                     fenced = std::move(fenced)](caf::actor_system& sys) {
                      return sys.spawn<caf::detached>(heartbeat, db, node_id,
                                                      interval, fenced);
                    }};
}

} // namespace souk::actors
