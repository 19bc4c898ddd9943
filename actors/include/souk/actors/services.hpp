#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <caf/actor.hpp>

namespace souk::actors {

/// Where the current handle of each named service actor is found: a
/// supervised actor gets a new handle when it restarts, so callers look it
/// up at each use instead of keeping one. CAF's registry only takes atoms;
/// this takes any name. The order engine uses "orders" (its manager) and
/// "timers"; steps of action `S.x` go to the service named `S`.
///
/// Thread-safe.
class service_directory {
public:
  /// Makes `handle` the service `name` (replacing an older handle).
  void put(const std::string& name, caf::actor handle);

  /// The handle of `name`, or an invalid handle.
  caf::actor get(std::string_view name) const;

private:
  mutable std::mutex mx_;
  std::map<std::string, caf::actor, std::less<>> handles_;
};

} // namespace souk::actors
