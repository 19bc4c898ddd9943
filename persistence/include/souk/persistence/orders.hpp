#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// One row of `orders`. Optional columns are empty strings for NULL.
struct order_row {
  std::string id;
  std::string product_id;
  std::string buyer_email;
  std::string buyer_id; ///< empty for a guest
  int64_t amount = 0;   ///< minor units
  std::string currency;
  std::string flow;
  int32_t flow_version = 0;
  std::string flow_hash;
  std::string state;
  int64_t version = 1;
  int32_t step_index = 0;
  int32_t step_attempt = 0;
  std::string last_error;
  std::string state_entered_at;
  std::string created_at;
  std::string updated_at;
};

/// One row of `order_events`.
struct event_row {
  std::string id;
  std::string order_id;
  int64_t seq = 0;
  std::string event;
  std::string from_state; ///< empty (NULL) for the first event
  std::string to_state;
  std::string actor; ///< "system", "gateway", "operator:<id>", ...
  std::string detail;
  std::string created_at;
};

/// One row of `timers`.
struct timer_row {
  std::string id;
  std::string order_id;
  std::string kind;  ///< "state_timeout" or "step_retry"
  std::string event; ///< what the order receives when the timer fires
  std::string due_at;
  std::string status = "pending"; ///< "pending", "fired" or "cancelled"
  std::string claimed_by;
  std::string claimed_until;
  std::string created_at;
};

/// One row of `outbox`.
struct outbox_row {
  std::string id;
  std::string order_id;
  std::string action;
  std::string params; ///< JSON text
  std::string idempotency_key;
  std::string status = "pending"; ///< "pending", "done" or "failed"
  int32_t attempts = 0;
  std::string last_error;
  std::string created_at;
  std::string done_at;
};

/// Everything an order actor needs to rebuild itself.
struct order_snapshot {
  order_row order;
  std::vector<event_row> events;  ///< ordered by seq
  std::vector<timer_row> timers;  ///< pending only, ordered by due_at
  std::vector<outbox_row> outbox; ///< pending only, in creation order
};

/// One state-machine step of an order, written by `order_repository::apply`
/// in a single transaction (DESIGN principle 2).
struct transition {
  std::string order_id;
  /// The version the caller's decision was based on.
  int64_t expected_version = 0;
  /// The new state (may equal the current one, e.g. a step retry).
  std::string state;
  int32_t step_index = 0;
  int32_t step_attempt = 0;
  std::string last_error; ///< empty clears it
  /// The event to append. `seq`, `order_id`, `from_state` and `to_state` are
  /// filled in by `apply`; `id` and `created_at` when empty.
  event_row event;
  /// Timers to cancel (ids of this order's pending timers) ...
  std::vector<std::string> cancel_timers;
  /// ... or all of the order's pending timers. Cancelling runs before
  /// arming, so a transition can replace its state's timers.
  bool cancel_all_timers = false;
  /// Timers to arm; `order_id` and `status` are set by `apply`, `id` and
  /// `created_at` when empty.
  std::vector<timer_row> arm_timers;
  /// Side effects to enqueue; `order_id`, `status` and `attempts` are set by
  /// `apply`, `id` and `created_at` when empty. A row whose idempotency key
  /// already exists is skipped, so replaying a transition never doubles a
  /// side effect.
  std::vector<outbox_row> enqueue;
};

struct transition_result {
  int64_t version = 0;   ///< the order's new version
  int64_t event_seq = 0; ///< seq of the appended event
};

/// Reads and writes orders, their events, timers and outbox. Blocking: call
/// from database or worker threads. Safe to use from several nodes sharing
/// one database: transitions use row versions, timer claims use leases.
class order_repository {
public:
  explicit order_repository(database& db) : db_(db) {}

  /// Inserts `order` with version 1 and `first_event` as its event 1, in one
  /// transaction. Empty ids and timestamps are generated; the event's
  /// `from_state` is NULL and its `to_state` the order's state. Fails with
  /// `errc::database` (nothing written) if a row is refused, e.g. an unknown
  /// product or a duplicate id.
  status create(const order_row& order, const event_row& first_event);

  /// The order with its events, pending timers and pending outbox rows, or
  /// nullopt if there is no such order.
  expected<std::optional<order_snapshot>> load(const std::string& id);

  /// Applies `t` in ONE transaction: moves the order to `t.state` (bumping
  /// its version, and `state_entered_at` if the state changed), appends
  /// `t.event` with the next seq, cancels and arms timers and enqueues
  /// outbox rows. `errc::conflict` if the order's version is not
  /// `t.expected_version` (or the order does not exist); `errc::database`
  /// if any row is refused. On any error nothing is written.
  expected<transition_result> apply(const transition& t);

  /// Claims up to `limit` pending timers due at `now` (ISO text) whose claim
  /// is absent or expired, for `node_id` until `now + lease`, earliest due
  /// first. Concurrent callers never get the same timer: PostgreSQL skips
  /// rows another claim has locked, SQLite serialises writers. A claimed
  /// timer is fired with `mark_timer_fired`; if its node dies, the lease
  /// runs out and another node claims it.
  expected<std::vector<timer_row>>
  claim_due_timers(const std::string& node_id, const std::string& now,
                   std::chrono::milliseconds lease, size_t limit);

  /// Marks a pending timer fired. `errc::not_found` if there is no pending
  /// timer with this id (fired or cancelled in the meantime).
  status mark_timer_fired(const std::string& timer_id);

  /// Marks a pending outbox row done. `errc::not_found` if there is no
  /// pending row with this id.
  status complete_outbox(const std::string& id);

  /// Records a failed attempt of a pending outbox row: attempts + 1 and
  /// `error` as its last error. The row stays pending for a retry unless
  /// `final`, which marks it failed. `errc::not_found` if there is no pending
  /// row with this id.
  status fail_outbox(const std::string& id, const std::string& error,
                     bool final = false);

  /// Up to `limit` ids of orders with pending outbox rows or pending timers,
  /// sorted: the orders to resume at start-up.
  expected<std::vector<std::string>> orders_needing_resume(size_t limit);

private:
  database& db_;
};

} // namespace souk::persistence
