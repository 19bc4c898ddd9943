#pragma once

#include <cstdint>
#include <memory>

#include <caf/fwd.hpp>

namespace souk::actors {

/// Owns souk's CAF actor system. Top-level actors handed to `adopt` are sent
/// `exit_reason::user_shutdown` by `shutdown` (CAF's `~actor_system` waits
/// for every actor, so they must be told to stop first).
///
/// Thread-safety: construct, `adopt` and `shutdown` from the owning thread.
class runtime {
public:
  struct options {
    /// CAF scheduler threads; 0 means one per core.
    uint32_t scheduler_threads = 0;
    /// Whether an idle worker keeps polling its queue with short sleeps
    /// (CAF's default) before it waits for work; off, it waits at once.
    bool poll_when_idle = false;
  };

  explicit runtime(options opts);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  caf::actor_system& system();

  /// Makes `top` one of the actors stopped by `shutdown`.
  void adopt(const caf::actor& top);

  /// Stops adopted actors and waits for all actors to finish. Idempotent.
  void shutdown();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace souk::actors
