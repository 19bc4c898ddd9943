#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// The state of an order the engine parked for an operator.
inline constexpr std::string_view parked_state = "needs_attention";

/// One row of `orders`: a flow instance of the order engine. Optional
/// columns are empty strings for NULL.
struct order_row {
  std::string id;
  /// "order" (a buyer's: product and buyer email are set) or "payout" (a
  /// creator's; its details are in `payouts`).
  std::string kind = "order";
  std::string product_id;  ///< empty for a payout
  std::string buyer_email; ///< empty for a payout
  std::string buyer_id;    ///< empty for a guest
  int64_t amount = 0;      ///< minor units
  std::string currency;
  std::string flow;
  int32_t flow_version = 0;
  std::string flow_hash;
  std::string state;
  int64_t version = 1;
  int32_t step_index = 0;
  int32_t step_attempt = 0;
  std::string last_error;
  /// The state a parked order (state `needs_attention`) was in; else empty.
  std::string parked_from;
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
  /// Set for events that may arrive twice (a webhook's event id): a second
  /// event with the same key on the same order is refused. Empty for none.
  std::string dedup_key;
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
  /// While a pending row's lease runs, someone runs or waits to retry it;
  /// recovery picks only rows whose lease ran out (or never had one).
  std::string claimed_until;
  std::string created_at;
  std::string done_at;
};

/// A change to one of the order's pending outbox rows, part of a transition.
struct outbox_update {
  std::string id;
  std::string status = "pending"; ///< "pending", "done" or "failed"
  bool count_attempt = false;     ///< attempts + 1
  std::string last_error;         ///< replaces the last error if not empty
  std::string claimed_until;      ///< the new lease; empty clears it
};

/// Everything an order actor needs to rebuild itself.
struct order_snapshot {
  order_row order;
  std::vector<event_row> events;  ///< ordered by seq
  std::vector<timer_row> timers;  ///< pending only, ordered by due_at
  std::vector<outbox_row> outbox; ///< pending only, in creation order
  /// The newest outbox row that failed (given up, or failed when the order
  /// was parked), not counting rows cancelled because the order left their
  /// state: what `order.retry` runs again.
  std::optional<outbox_row> last_failed;
};

/// The prefix of `outbox.last_error` for a row cancelled because its order
/// left the state (not a failure of the step).
inline constexpr std::string_view cancelled_prefix = "cancelled:";

/// One state-machine step of an order, written by `order_repository::apply`
/// in a single transaction (DESIGN principle 2).
struct transition {
  std::string order_id;
  /// The version the caller's decision was based on.
  int64_t expected_version = 0;
  /// The state the order was in at `expected_version`, as the caller read
  /// it (only a transition changes the state, and it always bumps the
  /// version, so the version guard makes it exact). Empty: `apply` reads it
  /// under the row lock, one statement more. Known, on PostgreSQL, and
  /// without `fire_timer`, `cancel_timers` or `reopen_outbox`: the whole
  /// transition is one statement (one round trip, no BEGIN/COMMIT).
  std::string from_state;
  /// The new state (may equal the current one, e.g. a step retry).
  std::string state;
  int32_t step_index = 0;
  int32_t step_attempt = 0;
  std::string last_error;  ///< empty clears it
  std::string parked_from; ///< see order_row; empty clears it
  /// The event to append. `seq`, `order_id`, `from_state` and `to_state` are
  /// filled in by `apply`; `id` and `created_at` when empty.
  event_row event;
  /// Timers to cancel (ids of this order's pending timers) ...
  std::vector<std::string> cancel_timers;
  /// ... or all of the order's pending timers. Cancelling runs before
  /// arming, so a transition can replace its state's timers.
  bool cancel_all_timers = false;
  /// A pending timer of this order that this transition fires (marks
  /// `fired`); if it is not pending any more the whole transition fails with
  /// `errc::conflict`, so a timer claimed twice acts once. Empty for none.
  std::string fire_timer;
  /// Timers to arm; `order_id` and `status` are set by `apply`, `id` and
  /// `created_at` when empty.
  std::vector<timer_row> arm_timers;
  /// Side effects to enqueue; `order_id` is set by `apply`, `id` and
  /// `created_at` when empty. A row is written pending with no attempts,
  /// unless its `status` is "done": then it is written done with its
  /// `attempts`, `last_error` and `done_at` (now when empty) and no lease, the
  /// record of a step that ran and ended inside this transaction. A pending row
  /// whose idempotency key already exists is skipped, so replaying a transition
  /// never doubles a side effect; a done one fails the transition with
  /// `errc::conflict` (its step ran as if for the first time).
  std::vector<outbox_row> enqueue;
  /// Changes to pending outbox rows of this order; a row that is not pending
  /// any more fails the transition with `errc::conflict`.
  std::vector<outbox_update> update_outbox;
  /// A failed outbox row of this order to run again (an operator's retry):
  /// it becomes pending with this lease, keeping its idempotency key, so a
  /// service that did the work before does not do it twice. A row that is
  /// not failed fails the transition with `errc::conflict`. Empty for none.
  std::string reopen_outbox;
  std::string reopen_until;
};

struct transition_result {
  int64_t version = 0;   ///< the order's new version
  int64_t event_seq = 0; ///< seq of the appended event
};

/// Everything recorded about one order, for operators.
struct order_history {
  order_row order;
  std::vector<event_row> events;  ///< all, by seq
  std::vector<timer_row> timers;  ///< all, by due_at
  std::vector<outbox_row> outbox; ///< all, in creation order
};

/// How many orders of one flow version sit in one state.
struct state_count {
  std::string kind;
  std::string flow;
  int32_t flow_version = 0;
  std::string state;
  int64_t orders = 0;
};

/// Which orders `order_repository::list` returns. Empty fields match all.
struct order_filter {
  std::string kind;
  std::string flow;
  std::string state;
  /// States to leave out (e.g. the terminal ones); each [a-z0-9_]+.
  std::vector<std::string> exclude_states;
};

/// Whose orders `order_repository::list_for` lists; empty fields match all.
struct order_scope {
  std::string buyer_id;   ///< a buyer's purchases
  std::string creator_id; ///< the sales of a creator's products
  std::string product_id;
  std::string state;
  std::string buyer_email; ///< normalised (accounts::normalize_email)
};

/// An order in a listing, with its product's title.
struct order_summary {
  order_row order;
  std::string product_title;
};

/// Work the engine and its services have not done yet, for `/metrics`.
struct backlog {
  int64_t outbox_pending = 0;
  /// Age of the oldest pending side effect nobody holds a lease on (0: none).
  double outbox_unclaimed_seconds = 0;
  int64_t timers_pending = 0;
  /// How late the most overdue pending timer is (0: none due).
  double timers_overdue_seconds = 0;
  int64_t emails_queued = 0;
  double emails_oldest_seconds = 0;
  int64_t inbox_received = 0; ///< gateway events not processed yet
  double inbox_oldest_seconds = 0;
};

/// Who may see an order, and a tag that changes whenever what the order's
/// reader is shown changes: its version (every transition), and the count
/// and latest update of its payments and of its refunds.
struct order_visibility {
  std::string kind;       ///< order or payout
  std::string buyer_id;   ///< empty for a guest
  std::string creator_id; ///< the product's creator
  std::string token_hash; ///< of the guest's access token; empty if none
  std::string tag;
  int64_t payments = 0; ///< payment rows of the order
  int64_t refunds = 0;  ///< refund rows of the order
};

/// Reads and writes orders, their events, timers and outbox. Blocking: call
/// from database or worker threads. Safe to use from several nodes sharing
/// one database: transitions use row versions, timer claims use leases.
class order_repository {
public:
  explicit order_repository(database& db) : db_(db) {}

  /// Inserts `order` with version 1 and `first_event` as its event 1, with
  /// the initial state's timers and outbox rows, in one transaction. Empty
  /// ids and timestamps are generated; the event's `from_state` is NULL and
  /// its `to_state` the order's state. Fails with `errc::database` (nothing
  /// written) if a row is refused, e.g. an unknown product or a duplicate id.
  status create(const order_row& order, const event_row& first_event,
                const std::vector<timer_row>& arm_timers = {},
                const std::vector<outbox_row>& enqueue = {});

  /// The order with its events, pending timers and pending outbox rows, or
  /// nullopt if there is no such order.
  expected<std::optional<order_snapshot>> load(const std::string& id);

  /// The order with its events only (what buyers, creators and operators
  /// are shown): one read instead of `load`'s five.
  expected<std::optional<order_snapshot>> load_view(const std::string& id);

  /// The order row alone (one read), or nullopt.
  expected<std::optional<order_row>> find(const std::string& id);

  /// The order row and the id of its product's creator ("" when it has no
  /// product), in one read; nullopt when there is no such order.
  expected<std::optional<std::pair<order_row, std::string>>>
  find_with_creator(const std::string& id);

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

  /// Sets the lease of a pending outbox row of `order_id` to `until`
  /// (ISO text) before it is run again. If `expired_by` is not empty, only
  /// a row whose lease is absent or ran out by then is taken. Fails with
  /// `errc::not_found` if there is no such pending row, `errc::conflict` if
  /// someone else's lease still runs.
  status lease_outbox(const std::string& order_id, const std::string& id,
                      const std::string& until,
                      const std::string& expired_by = {});

  /// Parks the order: state `needs_attention`, `parked_from` the state it
  /// was in, `reason` as its last error and in an appended `order.parked`
  /// event (by `actor`), every pending timer cancelled and every pending
  /// outbox row failed with "parked: REASON" (the rows stay as evidence). One
  /// transaction, whatever the order's version. `errc::not_found` for no such
  /// order; parking a parked order changes nothing and succeeds.
  /// `parked_now`, if given, says whether this call parked it (for the
  /// parked counter, which must not count a park that changed nothing).
  status park(const std::string& order_id, const std::string& reason,
              const std::string& actor, bool* parked_now = nullptr);

  /// Up to `limit` ids (sorted, greater than `after`) of orders that are not
  /// parked and have a pending outbox row whose lease is absent or ran out
  /// at `now` (ISO text): side effects nobody is running. Start-up recovery
  /// and the periodic sweep resume these.
  expected<std::vector<std::string>>
  orders_needing_resume(const std::string& now, size_t limit,
                        const std::string& after = {});

  /// The order with every event, timer and outbox row it ever had; nullopt
  /// if there is no such order.
  expected<std::optional<order_history>> history(const std::string& id);

  /// Orders per (kind, flow, version, state).
  expected<std::vector<state_count>> count_by_state();

  /// Up to `limit` orders matching `f` with ids greater than `after`, by id.
  expected<std::vector<order_row>> list(const order_filter& f,
                                        const std::string& after, size_t limit);

  /// Up to `limit` buyers' orders (never payouts) in `scope`, newest
  /// first, starting after the order (`after_created`, `after_id`) of an
  /// earlier page (both empty: from the newest).
  expected<std::vector<order_summary>>
  list_for(const order_scope& scope, const std::string& after_created,
           const std::string& after_id, size_t limit);

  /// Who may see order `id` and a tag of what it shows, from one read:
  /// what a reader of the order checks before anything else, and all a
  /// poller needs when nothing changed. nullopt if there is no such order.
  expected<std::optional<order_visibility>> visibility(const std::string& id);

  /// Replaces (or sets) the hash of order `id`'s access token.
  status set_access_hash(const std::string& id, const std::string& hash);

  /// What is waiting at `now`.
  expected<backlog> backlog_at(timestamp now);

  /// Marks a pending timer fired without touching its order: for a timer
  /// whose order is gone or finished. `errc::not_found` if it is not
  /// pending.
  status mark_timer_fired(const std::string& timer_id);

private:
  database& db_;
};

} // namespace souk::persistence
