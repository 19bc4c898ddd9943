#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "souk/actors/supervisor.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::actors {

/// A supervised child that refreshes this node's `nodes.heartbeat_at` every
/// `interval`. It runs detached (its own thread) because the update is a
/// blocking database call; a failed update stops it with the error, so the
/// supervisor restarts it with backoff.
child_spec node_heartbeat(std::shared_ptr<persistence::database> db,
                          std::string node_id,
                          std::chrono::milliseconds interval);

} // namespace souk::actors
