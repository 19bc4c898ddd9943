#pragma once

// Internal to actors/: what the order manager, the order actors and the
// timer actor share, and the messages only they exchange.

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "souk/actors/engine.hpp"
#include "souk/actors/order_messages.hpp"
#include "souk/actors/services.hpp"
#include "souk/metrics/registry.hpp"
#include "souk/orders/library.hpp"
#include "souk/persistence/database.hpp"

namespace souk::actors::detail {

// Names in the service directory.
inline constexpr const char* manager_name = "orders";
inline constexpr const char* timers_name = "timers";

using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using parked_atom = caf::atom_constant<caf::atom("parked")>;
using loaded_atom = caf::atom_constant<caf::atom("loaded")>;
using commit_atom = caf::atom_constant<caf::atom("committed")>;
using inline_atom = caf::atom_constant<caf::atom("inlined")>;
using leased_atom = caf::atom_constant<caf::atom("leased")>;
using step_atom = caf::atom_constant<caf::atom("stepdone")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using poll_atom = caf::atom_constant<caf::atom("poll")>;
using claimed_atom = caf::atom_constant<caf::atom("claimed")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using swept_atom = caf::atom_constant<caf::atom("swept")>;
using survey_atom = caf::atom_constant<caf::atom("survey")>;
using peek_atom = caf::atom_constant<caf::atom("peek")>;
using idle_tick_atom = caf::atom_constant<caf::atom("idletick")>;

/// The result of rebuilding an order from its rows.
struct load_result {
  error err;
  std::optional<persistence::order_snapshot> snap; ///< empty: no such order
  orders::template_ptr tpl;
};

/// The result of one transaction or lease.
struct commit_result {
  error err;
  persistence::transition_result result;
  bool parked = false; ///< a park that changed the order (not already parked)
};

/// A local step run inside the transaction of the transition before it
/// (engine_options::local_services), and the transition recording its
/// success.
struct inline_step {
  std::string action;
  persistence::transition tx;
  persistence::transition_result result;
};

/// The result of local steps run in one transaction, with the transition
/// that led to the first (`led`) or after it had committed.
struct inline_result {
  bool led = false;                     ///< a transition came first
  error err;                            ///< that transition's own failure
  persistence::transition_result first; ///< that transition's
  std::vector<inline_step> steps;       ///< empty: none ran inline
  std::optional<persistence::outbox_row> dispatch; ///< to start after
};

/// Rows found by the timer actor (due timers or orders to resume).
struct found_rows {
  error err;
  std::vector<persistence::timer_row> timers;
  std::vector<std::string> order_ids;
};

/// Shared by the engine's actors; immutable after construction.
struct engine_context {
  std::shared_ptr<persistence::database> db;
  std::shared_ptr<orders::flow_library> flows;
  std::shared_ptr<service_directory> services;
  engine_options opts;

  timestamp now() const { return opts.clock ? opts.clock() : souk::now(); }

  void post(std::function<void()> job) const {
    if (opts.executor)
      opts.executor(std::move(job));
    else
      db->post(std::move(job));
  }

  /// The metrics registry, or null.
  metrics::registry* metrics() const { return opts.metrics.get(); }

  /// Uniform in [0, 1), for jitter.
  static double sample() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>{0.0, 1.0}(rng);
  }
};

using context_ptr = std::shared_ptr<const engine_context>;

/// Spawns the actor of order `id`, reporting to `manager`.
caf::actor spawn_order(caf::actor_system& sys, context_ptr ctx, std::string id,
                       caf::actor manager);

/// Spawns the order manager.
caf::actor spawn_manager(caf::actor_system& sys, context_ptr ctx);

/// Spawns the timer actor.
caf::actor spawn_timers(caf::actor_system& sys, context_ptr ctx);

} // namespace souk::actors::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::detail::load_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::detail::commit_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::detail::found_rows)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(souk::actors::detail::inline_result)
