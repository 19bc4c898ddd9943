#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "souk/actors/supervisor.hpp"
#include "souk/core/error.hpp"
#include "souk/core/time.hpp"
#include "souk/orders/planner.hpp"
#include "souk/persistence/orders.hpp"

namespace souk::orders {
class flow_library;
} // namespace souk::orders

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::metrics {
class registry;
} // namespace souk::metrics

namespace souk::actors {

class service_directory;
struct order_inspection;
struct action_call;

/// A service whose steps the engine runs itself, inside its transactions
/// (`engine_options::local_services`).
struct local_service {
  /// Runs one step on the calling thread; its database calls join the
  /// engine's transaction.
  std::function<status(const action_call&)> run;
  /// Its steps write rows that every order shares (the platform's ledger
  /// accounts): the transaction commits right after such a step, so those
  /// rows stay locked as briefly as when the step commits on its own, and
  /// the steps after it run in a transaction of their own.
  bool commits_after = false;
};

/// Tunables of the order engine (`orders:` in the config file).
struct engine_options {
  /// This node's id: timer claims carry it.
  std::string node_id;
  /// Leases and retry jitter, see `orders::plan_options`.
  orders::plan_options plan;
  /// How long a service may take to answer one step before the attempt
  /// counts as failed with `timeout`.
  std::chrono::milliseconds step_timeout{30'000};
  /// An order actor with nothing to do for this long is stopped; the next
  /// message for the order rebuilds it from the database.
  std::chrono::milliseconds idle_timeout{60'000};
  /// How often the timer actor looks for due timers...
  std::chrono::milliseconds timer_poll{1'000};
  /// ...how long its claim on a due timer lasts before another node may
  /// take it...
  std::chrono::milliseconds timer_lease{30'000};
  /// ...and how many it claims at once.
  size_t batch = 200;
  /// How often unleased side effects are looked for (a crashed node's work);
  /// the first sweep runs at start-up.
  std::chrono::milliseconds sweep_interval{30'000};
  /// Restarts of a crashed order actor: backoff, and more than
  /// `max_restarts` crashes within `window` parks the order in
  /// `needs_attention`.
  restart_policy restart{std::chrono::milliseconds{500},     2,
                         std::chrono::milliseconds{30'000},  3,
                         std::chrono::milliseconds{600'000}, 0.2};
  /// The services installed on this node (e.g. "wallet", "email"). A step
  /// whose service is not installed parks its order instead of failing it:
  /// nothing pretends a step ran.
  std::set<std::string> services;
  /// Services whose steps only write to this database (soukd: the wallet,
  /// delivery and email's queue), by name. Such a step runs inside the
  /// transaction that records the transition leading to it, together with
  /// the transition recording its success and any local steps after it:
  /// one commit for the lot, no outbox lease, no service actor. If one
  /// fails, all of it rolls back and the step runs the usual way (its
  /// service actor, retries by the template). Empty: every step goes to
  /// its actor.
  std::map<std::string, local_service> local_services;
  /// The time (tests drive it); default `souk::now`.
  std::function<timestamp()> clock;
  /// Where transitions, steps, restarts and activations are counted; none
  /// if null.
  std::shared_ptr<metrics::registry> metrics;
  /// Where blocking database work runs; default the database's own threads
  /// (`database::post`). Never CAF's scheduler threads.
  std::function<void(std::function<void()>)> executor;
  /// Looked at before a claimed timer fires: `before_timer(timer, fire)`
  /// must not block, and calls `fire()` at most once, from any thread, when
  /// the timer may go to its order (within `timer_lease`). A timer it does
  /// not fire is claimed again, and looked at again, once its lease runs
  /// out. Whatever it delivered to the order meanwhile comes first; a
  /// timer of a state the order has left is then ignored. soukd asks the
  /// gateway whether a payment arrived after all before `payment.expired`
  /// fails its order. Null: timers fire at once.
  std::function<void(const persistence::timer_row&, std::function<void()>)>
    before_timer;
  /// Called after a change to an order committed (a transition, with any
  /// local steps after it), with the order's id. Runs on a CAF thread and
  /// must not block. soukd wakes the order's long polls with it.
  std::function<void(const std::string& order_id)> on_change;
};

/// The order engine: an order manager actor (order id → live order actor,
/// activation on demand, passivation when idle, restarts with backoff,
/// parking of orders that keep crashing) and a timer actor (durable timers,
/// recovery sweeps). The manager and the timer actor are `children()` for a
/// supervisor, so they restart too; callers reach them through the service
/// directory, never through a stored handle.
///
/// Thread-safe. Callbacks run on a CAF thread and must not block.
class order_engine {
public:
  order_engine(caf::actor_system& sys,
               std::shared_ptr<persistence::database> db,
               std::shared_ptr<orders::flow_library> flows,
               std::shared_ptr<service_directory> services,
               engine_options opts);
  ~order_engine();
  order_engine(const order_engine&) = delete;
  order_engine& operator=(const order_engine&) = delete;

  /// The manager ("orders") and the timer actor ("timers") to supervise.
  std::vector<child_spec> children();

  /// Creates an order on the current template of `flow`: pins the template,
  /// writes the order, its first event, timers and side effects in one
  /// transaction, and activates it if its first state has work. `base`
  /// supplies product, buyer, amount and currency. Blocking (database).
  expected<persistence::order_row> create(persistence::order_row base,
                                          std::string_view flow);

  /// The same as `create` up to the database write, for callers that add
  /// their own rows to the same transaction (checkout); then call
  /// `started`.
  expected<orders::creation> prepare(persistence::order_row base,
                                     std::string_view flow);

  /// Tells the engine a prepared order was committed.
  void started(const orders::creation& c);

  /// Delivers `in` to the order (activating it); `done` gets the outcome
  /// once it is committed, or an error (`not_found`, `unavailable`,
  /// `timeout`, ...).
  void deliver(std::string order_id, orders::event_input in,
               std::function<void(expected<orders::outcome>)> done,
               std::chrono::milliseconds timeout = std::chrono::seconds{10});

  /// The live snapshot of the order's actor (activating it).
  void inspect(std::string order_id,
               std::function<void(expected<order_inspection>)> done,
               std::chrono::milliseconds timeout = std::chrono::seconds{10});

  /// The live snapshot of the order's actor if it has one on this node;
  /// `errc::not_found` if not (it is not activated).
  void peek(std::string order_id,
            std::function<void(expected<order_inspection>)> done,
            std::chrono::milliseconds timeout = std::chrono::seconds{5});
  expected<order_inspection> peek_wait(std::string order_id,
                                       std::chrono::milliseconds timeout
                                       = std::chrono::seconds{5});

  /// What every live order actor on this node reports about itself (those
  /// that do not answer within `timeout` appear with `responsive` false),
  /// sorted by order id.
  void survey(std::function<void(expected<std::vector<order_inspection>>)> done,
              std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// The ids of the orders with a live actor on this node.
  void live(std::function<void(expected<std::vector<std::string>>)> done,
            std::chrono::milliseconds timeout = std::chrono::seconds{10});

  /// Blocking forms of the above for threads outside CAF (not under CAF's
  /// test scheduler).
  expected<orders::outcome>
  deliver_wait(std::string order_id, orders::event_input in,
               std::chrono::milliseconds timeout = std::chrono::seconds{10});
  expected<order_inspection> inspect_wait(std::string order_id,
                                          std::chrono::milliseconds timeout
                                          = std::chrono::seconds{10});
  expected<std::vector<order_inspection>>
  survey_wait(std::chrono::milliseconds timeout = std::chrono::seconds{5});
  expected<std::vector<std::string>> live_wait(std::chrono::milliseconds timeout
                                               = std::chrono::seconds{10});

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace souk::actors
