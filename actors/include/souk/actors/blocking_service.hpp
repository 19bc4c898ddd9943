#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "souk/actors/supervisor.hpp"
#include "souk/core/error.hpp"

namespace souk {
class worker_pool;
} // namespace souk

namespace souk::actors {

class service_directory;
struct action_call;

/// A service actor in front of blocking code (a gateway driver, a ledger,
/// SMTP): it answers `(run_atom, action_call)` for the order engine and runs
/// a periodic background round, both on `workers`, never on CAF's threads.
struct blocking_service_options {
  /// The service's name: steps `NAME.x` reach it, and it is registered
  /// under it in the service directory.
  std::string name;
  /// Runs one step; must be idempotent on the call's idempotency key.
  std::function<status(const action_call&)> run;
  /// One background round (may be empty); returns how many items it did. A
  /// round that did a full batch is followed at once by as many rounds as
  /// may run at once (`rounds_at_once`).
  std::function<size_t()> round;
  /// How often the round runs when idle.
  std::chrono::milliseconds poll{1'000};
  /// Rounds returning at least this many run again at once.
  size_t batch = 50;
  /// Rounds that may run at the same time, each on its own worker (keep it
  /// below the pool's size so steps still find a thread). A nudge starts
  /// another while fewer run. Above 1 the round must lease what it works
  /// on, so that two rounds never take the same item.
  size_t rounds_at_once = 1;
  std::shared_ptr<worker_pool> workers;
  std::shared_ptr<service_directory> directory;
};

/// The supervised child running such a service ("service.NAME").
child_spec blocking_service(blocking_service_options opts);

/// Asks the service `name` to run its background round now (e.g. a webhook
/// just arrived). Safe from any thread; does nothing if it is not running.
void nudge(const service_directory& dir, const std::string& name);

} // namespace souk::actors
