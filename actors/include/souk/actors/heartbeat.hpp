#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "souk/actors/supervisor.hpp"
#include "souk/core/error.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::actors {

/// A supervised child that refreshes this node's `nodes.heartbeat_at` every
/// `interval`. It runs detached (its own thread) because the update is a
/// blocking database call; a failed update stops it with the error, so the
/// supervisor restarts it with backoff. When another node has marked this
/// one stopped (its heartbeat looked stale, e.g. after a long pause, and
/// its leases were released), `fenced` is called with the reason: this
/// node must stop working, since others may now hold what it held.
child_spec node_heartbeat(std::shared_ptr<persistence::database> db,
                          std::string node_id,
                          std::chrono::milliseconds interval,
                          std::function<void(const error&)> fenced = {});

} // namespace souk::actors
