#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "souk/core/error.hpp"
#include "souk/orders/planner.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::catalog {
class service;
} // namespace souk::catalog

namespace souk::payments {

class gateway;
struct webhook_event;

/// How payments reach the order engine (soukd wires these to
/// `actors::order_engine`). Blocking: called from worker threads only.
struct order_port {
  /// Plans a new order on `flow` (see `order_engine::prepare`).
  std::function<expected<orders::creation>(persistence::order_row,
                                           std::string_view flow)>
    prepare;
  /// Tells the engine a prepared order was committed.
  std::function<void(const orders::creation&)> started;
  /// Delivers an event and waits until it is committed, running its `with`
  /// writes in that transaction (the payment's settlement rides on them).
  std::function<expected<orders::outcome>(const std::string& order_id,
                                          orders::event_input)>
    deliver;
  /// Parks an order in `needs_attention` for an operator.
  std::function<status(const std::string& order_id, const std::string& reason)>
    park;
};

/// Tunables (`payments:` in the config file).
struct service_options {
  /// Where the buyer's browser returns after paying (souk's callback);
  /// asked at each checkout (soukd's URL is known once it listens).
  std::function<std::string()> callback_url;
  /// Reconciliation first asks the gateway about a payment this long after
  /// checkout (Paystack sends no webhook for failed or abandoned charges)...
  std::chrono::milliseconds reconcile_after{10 * 60'000};
  /// ...then again at doubling intervals up to this...
  std::chrono::milliseconds reconcile_max_interval{60 * 60'000};
  /// ...and stops this long after checkout, settling it as failed.
  std::chrono::milliseconds reconcile_for{72ll * 3600'000};
  /// A gateway event that could not be processed (the gateway's verify
  /// failed, the database was down) is retried after this, doubling...
  std::chrono::milliseconds retry_initial{1'000};
  /// ...up to this...
  std::chrono::milliseconds retry_max{5 * 60'000};
  /// ...for this long after it arrived; then it is set aside (`ignored`,
  /// with the last error) for an operator.
  std::chrono::milliseconds retry_for{72ll * 3600'000};
  /// How long a node's claim on an event or a check lasts.
  std::chrono::milliseconds lease{60'000};
  /// Above zero, a webhook is stored already leased to this process for
  /// this long and handed to `run_due` in memory, which works on it
  /// without claiming it (a write) while at least `lease` of it is left.
  /// If the process dies first, any node claims it once the lease ends.
  std::chrono::milliseconds webhook_lease{0};
  /// Rows taken per round.
  size_t batch = 50;
  /// How long a checkout holds its Idempotency-Key before another request
  /// with the key may take it over (the first one died).
  std::chrono::milliseconds key_lock{60'000};
  /// How long one node may take asking the gateway for a refund (longer
  /// than a gateway call). A refund still being asked after that lost its
  /// answer: it is never asked again automatically (it may have been
  /// made), and its order goes to an operator.
  std::chrono::milliseconds refund_lease{120'000};
  /// Where `transfer.success|failed|reversed` events go (`payouts::on_event`);
  /// without it they are ignored.
  std::function<status(const webhook_event&)> transfer_events;
};

/// A checkout as the HTTP layer hands it over (fields already checked for
/// type; the service checks the values).
struct checkout_request {
  std::string product_id;
  std::string email;
  std::string buyer_id; ///< empty for a guest
  /// Pay what you want: what the buyer offers (same currency as the price).
  std::optional<int64_t> amount;
  /// The Idempotency-Key, the caller's scope for it, and a hash of the
  /// request (same key + other hash = `errc::idempotency_mismatch`).
  std::string idempotency_key;
  std::string scope;
  std::string request_hash;
};

/// The answer to a checkout: status and JSON body, as first given.
struct checkout_answer {
  unsigned status = 201;
  std::string body;
  std::string order_id;
  bool replayed = false;
};

/// Where one payment stands after `settle`.
struct settlement {
  std::string order_id;
  std::string reference;
  std::string payment_status; ///< initialized, succeeded, failed, mismatch
  std::string gateway_status; ///< the gateway's word, e.g. "abandoned"
};

/// What a webhook delivery amounted to.
enum class intake {
  accepted,  ///< stored; it is processed next
  duplicate, ///< seen before: nothing stored
};

/// The payments service: checkout, webhooks into the inbox, settling a
/// payment (verify with the gateway, compare, then move the order exactly
/// once), reconciliation, and the `payment.*` flow actions.
///
/// Thread-safe. Every call blocks (database, gateway): call from worker
/// threads, never from an event loop or a CAF scheduler thread.
class service {
public:
  service(std::shared_ptr<persistence::database> db,
          std::shared_ptr<gateway> gw,
          std::shared_ptr<catalog::service> catalog, order_port orders,
          service_options opts);
  ~service();

  /// Starts a purchase: the order (pending) with its payment row and the
  /// stored answer of the Idempotency-Key, in one transaction, after the
  /// gateway issued the checkout. Errors: `invalid_field`, `not_found`
  /// (product), `idempotency_mismatch`, `conflict` (the key is in use by a
  /// request in flight), `unavailable` (gateway).
  expected<checkout_answer> checkout(const checkout_request& r);

  /// Takes a webhook: `errc::unauthorized` unless `signature` signs `body`
  /// (nothing is stored then); else stores it in the inbox once.
  expected<intake> receive_webhook(std::string_view body,
                                   std::string_view signature);

  /// Before an order's wait for its payment runs out (the flow's
  /// `payment.expired`): asks the gateway whether the payment went through
  /// after all (its webhook lost or late) and, if so, settles it, so the
  /// order is paid and delivered rather than failed and parked. Does
  /// nothing for an order without an open payment. Blocking (a gateway
  /// call). Returns false when the gateway (or the order) did not answer:
  /// the caller asks again later rather than expire an order that may be
  /// paid.
  bool confirm_before_expiry(const std::string& order_id);

  /// Asks the gateway about the payment `reference` and acts on the answer:
  /// a successful charge whose amount and currency match moves the order on
  /// with `payment.succeeded` (deduplicated on the reference, so webhook,
  /// browser and reconciliation complete it exactly once); a mismatch parks
  /// the order with the evidence; anything else is recorded. `via` says
  /// who asked ("webhook", "callback", "reconciliation", "expiry").
  expected<settlement> settle(const std::string& reference,
                              std::string_view via);

  /// Before an operator answers a payment that came late (fulfils or
  /// refunds its parked order): the key its events carry
  /// ("payment:<reference>") if the money is still there to answer for:
  /// the payment is `succeeded`, souk has asked for no refund of it, and
  /// the gateway's verify still reports it paid in full (not `reversed`:
  /// refunded in the gateway's dashboard, say), and the gateway lists no
  /// refund of it (a partial refund in the dashboard leaves verify at
  /// `success`). `conflict` naming what is wrong otherwise; `unavailable`
  /// when the gateway does not answer. Blocking (two gateway calls).
  expected<std::string> late_payment_key(const std::string& order_id);

  /// One round of background work: processes due inbox events, then due
  /// reconciliation checks. Returns how many rows it handled.
  size_t run_due();

  /// Gives up the leases of webhooks stored by this process and not worked
  /// on yet, so that any node works on them at once. For a graceful stop,
  /// once no round runs.
  void release_handed();

  /// Runs the flow action `action` (e.g. "payment.refund") for an order;
  /// idempotent on `idempotency_key`.
  status run_action(const std::string& action, const std::string& order_id,
                    const std::string& params,
                    const std::string& idempotency_key);

  /// The gateway's name ("paystack").
  std::string_view gateway_name() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The flow actions this service runs, with their parameters.
const std::vector<std::string>& actions();

} // namespace souk::payments
