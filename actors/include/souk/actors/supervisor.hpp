#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

namespace souk::actors {

/// When and how often a crashed child is restarted: the n-th restart within
/// `window` waits `initial * factor^(n-1)`, capped at `max`; more than
/// `max_restarts` crashes within `window` and the supervisor gives up on it.
struct restart_policy {
  std::chrono::milliseconds initial{200};
  uint32_t factor = 2;
  std::chrono::milliseconds max{30'000};
  uint32_t max_restarts = 10;
  std::chrono::milliseconds window{60'000};
  /// Each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
  /// (0 to 1), so children that crashed together do not restart in
  /// lockstep. Default 0: exact delays.
  double jitter = 0.0;

  /// The delay before restart number `n` (1-based) within the window,
  /// without jitter.
  std::chrono::milliseconds delay(uint32_t n) const;

  /// `delay(n)` scaled by the jitter factor for `sample` in [0, 1).
  std::chrono::milliseconds jittered(uint32_t n, double sample) const;
};

/// A child the supervisor keeps running. `start` spawns it (any spawn
/// options, e.g. `caf::detached` for actors that block); the supervisor
/// monitors the result. A child that exits normally is not restarted.
struct child_spec {
  std::string name;
  std::function<caf::actor(caf::actor_system&)> start;
};

/// What a supervisor reports about one child.
struct child_status {
  std::string name;
  bool running = false;
  bool given_up = false;
  uint32_t restarts = 0;  ///< since start-up
  std::string last_error; ///< why it last stopped, if it did
};

/// A snapshot of the supervision tree that other threads (the HTTP readiness
/// probe, the admin API) read without messaging actors. Thread-safe.
class supervision_board {
public:
  void update(const child_status& x);
  std::vector<child_status> snapshot() const;
  /// False if any child was given up on.
  bool healthy() const;

private:
  mutable std::mutex mx_;
  std::map<std::string, child_status> children_;
};

/// Spawns a supervisor that starts `children`, monitors them and restarts
/// crashed ones by `policy`, publishing their state on `board`. However the
/// supervisor ends (an exit message of any reason, an exception), it sends
/// its children an exit message too; it does not wait for them. Never blocks.
caf::actor spawn_supervisor(caf::actor_system& sys, restart_policy policy,
                            std::vector<child_spec> children,
                            std::shared_ptr<supervision_board> board);

} // namespace souk::actors
