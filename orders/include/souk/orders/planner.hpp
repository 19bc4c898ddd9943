#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "souk/core/error.hpp"
#include "souk/core/time.hpp"
#include "souk/flows/template.hpp"
#include "souk/persistence/orders.hpp"

namespace souk::orders {

// The planner turns what happens to an order (an event, a step's result, a
// timer) into the rows of ONE transaction plus the side effect to start
// after it commits. It does no I/O and reads no clock (time and the jitter
// sample come in as arguments; only row ids are generated), so the order
// actor stays a thin loop and this logic is tested on its own.
// The order actor owns the snapshot and calls `mirror` after each commit.

/// Tunables the plans depend on.
struct plan_options {
  /// How long a dispatched side effect is leased: the step's answer time
  /// plus a margin. Recovery leaves leased rows alone.
  std::chrono::milliseconds step_lease{60'000};
  /// Retry delays are scaled by a factor in [1 - jitter, 1 + jitter].
  double retry_jitter = 0.2;
};

/// What a plan did with its input, as the order actor reports it back.
enum class outcome {
  applied,   ///< the order moved (or recorded a step's progress)
  ignored,   ///< recorded, but the state does not handle it
  duplicate, ///< seen before (same dedup key): nothing written
  stale,     ///< about a timer or step the order no longer waits for
};

/// Something that happened to an order from outside: a webhook, the API, an
/// operator.
struct event_input {
  std::string event;     ///< e.g. "payment.succeeded"
  std::string actor;     ///< "gateway", "operator:<id>", "system", ...
  std::string detail;    ///< free text or JSON for the timeline
  std::string dedup_key; ///< same key twice on one order: a duplicate
  /// An event the state does not handle is recorded in the timeline (it
  /// arrived) unless this is false: a request refused to its caller
  /// (409) leaves nothing behind.
  bool record_if_ignored = true;
  /// The caller's own writes, committed in the same transaction as the
  /// event's record: run inside it on the database's thread, after the
  /// order's rows, told the outcome the caller will get and given the
  /// engine's database, whose calls there join the transaction (another
  /// `database` object's would not). Their failure rolls back both and is
  /// the answer. They run with every transaction that records the event
  /// (outcome `applied` or `ignored`), never for a `duplicate` or `stale`
  /// one, which writes nothing. Capture by value: they may run after a
  /// caller that stopped waiting has gone.
  std::function<status(outcome, persistence::database&)> with = {};
};

/// An operator's retry of a parked order (state `needs_attention`): the
/// engine handles it, whatever the template says. The order goes back to the
/// state it was parked from (or that led it to `needs_attention`) and runs
/// the step that failed again, with the same idempotency key; with no such
/// step it enters that state afresh. Elsewhere it is `ignored`.
inline constexpr std::string_view retry_event = "order.retry";

/// An operator's cancellation: an ordinary event the template routes (the
/// shipped order flows cancel a `pending` order).
inline constexpr std::string_view cancel_event = "order.cancel";

/// An operator's fulfilment of an order parked because its payment came
/// late (the gateway confirmed it after the order had left its initial
/// state: timed out, failed or cancelled). The engine handles it, whatever
/// the template says: the order takes the transition its initial state
/// takes on `payment.succeeded`, as if the payment had come in time.
/// Anywhere else (not parked, parked for another reason, or the order
/// took a payment before) it is `ignored`.
inline constexpr std::string_view fulfil_event = "order.fulfil";

/// The prefix of a payment's key on its order's events
/// ("payment:<reference>"): the gateway's `payment.succeeded` carries it,
/// and so does an operator's answer to a payment that came late, so the
/// payment delivered again later is a duplicate.
inline constexpr std::string_view payment_key_prefix = "payment:";

/// The event that asks an order for a refund. The template routes it; the
/// engine also takes it in `needs_attention` for an order parked because
/// its payment came late, and enters the state the template's
/// `refund.requested` leads to (the one state it leads to): nothing was
/// credited or delivered, so that state's steps give back the money only.
inline constexpr std::string_view refund_event = "refund.requested";

/// The payment an order parked in `needs_attention` received after it had
/// left its initial state (the gateway's `payment.succeeded`, recorded as
/// ignored), if no event took or answered a payment (none carries a
/// payment's key, "payment:..."): what `fulfil_event` and a late refund
/// act on, each once (they carry the payment's key: the caller's, or one
/// made up if it gives none). Null elsewhere. A retry of such an order is
/// refused: it would wait for a payment that has come.
const persistence::event_row*
late_payment(const persistence::order_snapshot& snap);

/// "applied", "ignored", "duplicate" or "stale".
std::string_view to_string(outcome x) noexcept;

/// One plan: apply `tx` if set, then start `dispatch` if set.
struct plan {
  outcome result = outcome::applied;
  std::optional<persistence::transition> tx;
  std::optional<persistence::outbox_row> dispatch;
};

/// The first rows of a new order.
struct creation {
  persistence::order_row order;
  persistence::event_row first_event;
  std::vector<persistence::timer_row> timers;
  std::vector<persistence::outbox_row> outbox;
};

/// A new order entering `tpl.initial` at `now`. `base` supplies the product,
/// buyer, amount and currency (and an id, else one is generated); the flow
/// fields and state come from `tpl`.
creation plan_create(const flows::flow_template& tpl,
                     persistence::order_row base, timestamp now,
                     const plan_options& opts);

/// `in` arriving for the order in `snap`.
plan plan_event(const flows::flow_template& tpl,
                const persistence::order_snapshot& snap, const event_input& in,
                timestamp now, const plan_options& opts);

/// The pending timer `timer_id` firing. `stale` if the snapshot has no such
/// pending timer.
plan plan_timer(const flows::flow_template& tpl,
                const persistence::order_snapshot& snap,
                const std::string& timer_id, timestamp now,
                const plan_options& opts);

/// The side effect `outbox_id` ended with `code` (`errc::ok` on success) and
/// `detail`. `jitter_sample` is uniform in [0, 1) and only shapes a retry's
/// delay. `stale` if the row is not the current step's pending row.
plan plan_step_result(const flows::flow_template& tpl,
                      const persistence::order_snapshot& snap,
                      const std::string& outbox_id, errc code,
                      const std::string& detail, timestamp now,
                      const plan_options& opts, double jitter_sample);

/// The current step's side effect, if the order (just rebuilt from its rows)
/// should run it now: it has a pending outbox row and no pending retry timer
/// for it. Running it again is safe: the row keeps its idempotency key.
std::optional<persistence::outbox_row>
pending_dispatch(const persistence::order_snapshot& snap);

/// Updates `snap` as the database did when `tx` committed with `result`.
void mirror(persistence::order_snapshot& snap,
            const persistence::transition& tx,
            const persistence::transition_result& result, timestamp now);

/// The step's parameters as a JSON object of strings (the outbox `params`).
std::string params_json(const flows::step& s);

} // namespace souk::orders
