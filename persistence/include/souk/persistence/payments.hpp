#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/orders.hpp"

namespace souk::persistence {

/// One row of `payments`. Optional columns are empty strings for NULL.
struct payment_row {
  std::string id;
  std::string order_id;
  std::string gateway;
  std::string reference;
  int64_t amount = 0;
  std::string currency;
  std::string email;
  /// initialized, succeeded, failed or mismatch.
  std::string status = "initialized";
  std::string authorization_url;
  std::string access_code;
  std::string gateway_status;
  std::string gateway_id;
  std::string settled_by;
  std::string evidence;
  int32_t checks = 0;
  std::string next_check_at;
  std::string created_at;
  std::string updated_at;
  std::string settled_at;
};

/// One row of `inbox`.
struct inbox_row {
  std::string id;
  std::string gateway;
  std::string event_key;
  std::string event;
  std::string reference;
  std::string payload;
  std::string status = "received"; ///< received, processed or ignored
  int32_t attempts = 0;
  std::string next_attempt_at;
  std::string last_error;
  std::string received_at;
  std::string processed_at;
  /// Until when a node works on it; stored as given by `store_event` (a
  /// row leased to its writer as it is stored).
  std::string claimed_until;
};

/// One row of `refunds`.
struct refund_row {
  std::string id;
  std::string order_id;
  std::string payment_id;
  std::string idempotency_key;
  int64_t amount = 0;
  std::string currency;
  /// requested, asking, pending, processed or failed.
  std::string status = "requested";
  std::string asking_until; ///< while `asking`: until when
  std::string gateway_id;
  std::string last_error;
  std::string created_at;
  std::string updated_at;
  std::string processed_at;
};

/// The outcome of claiming an idempotency key.
struct idempotency_claim {
  enum kind_t {
    owned,       ///< the caller holds the key: do the work, then finish
    replay,      ///< done before with the same request: answer this
    mismatch,    ///< used before with a different request
    in_progress, ///< another request with this key is running
  } kind
    = owned;
  int32_t status = 0; ///< replay: the first answer's status...
  std::string body;   ///< ...and body
};

/// The answer stored for an idempotency key when its request finishes.
struct idempotency_answer {
  std::string scope;
  std::string key;
  int32_t status = 0;
  std::string body;
};

/// The rows a checkout writes in ONE transaction: the order (as the order
/// engine planned it), its payment, and the stored answer of the
/// Idempotency-Key request.
struct checkout_rows {
  order_row order;
  event_row first_event;
  std::vector<timer_row> timers;
  std::vector<outbox_row> outbox;
  payment_row payment;
  idempotency_answer answer;
  /// SHA-256 (hex) of the buyer's access token (`order_access`); empty: none.
  std::string access_hash;
};

/// An order as its page (`GET /api/v1/orders/{id}`) shows it: who may see
/// it and, on PostgreSQL, read in the same statement, the order with its
/// events and its newest payment. On SQLite only `reader` is read: the
/// caller reads the rest if it needs it.
struct order_page {
  order_visibility reader;
  std::optional<order_snapshot> view; ///< order and events (load_view)
  std::optional<payment_row> payment; ///< the newest; none when it has none
};

/// Payments, gateway events, refunds and idempotent requests.
/// Thread-safe; every call blocks on the database.
class payment_repository {
public:
  explicit payment_repository(database& db) : db_(db) {}

  // -- idempotency keys

  /// Claims (scope, key) for a request whose body hashes to `hash`, held
  /// until `locked_until`; a `started` claim whose lock ran out (its request
  /// died) is taken over.
  expected<idempotency_claim> claim_key(const std::string& scope,
                                        const std::string& key,
                                        const std::string& hash,
                                        const std::string& locked_until);

  /// Gives a claimed key up (the request failed and changed nothing), so a
  /// retry with the same key runs again.
  status release_key(const std::string& scope, const std::string& key);

  // -- payments

  /// Writes a checkout's rows in one transaction (see `checkout_rows`).
  status create_checkout(const checkout_rows& rows);

  expected<std::optional<payment_row>>
  find_by_reference(const std::string& reference);
  expected<std::optional<payment_row>>
  find_by_order(const std::string& order_id);

  /// The order's page rows (see `order_page`); nothing if there is no
  /// order `order_id`. One statement on either backend (SQLite:
  /// `order_repository::visibility`).
  expected<std::optional<order_page>>
  order_page_of(const std::string& order_id);

  /// Records one verify answer for a payment still `initialized`: its
  /// status word, one more check, the next look.
  status record_check(const std::string& id, const std::string& gateway_status,
                      const std::string& next_check_at);

  /// Settles an `initialized` payment as `status` (succeeded, failed or
  /// mismatch) with the evidence; a `failed` one (reconciliation gave up)
  /// may still become succeeded or mismatch. False if it was settled already
  /// (by someone else: the caller goes on with what is stored).
  expected<bool> settle(const std::string& id, const std::string& status,
                        const std::string& gateway_status,
                        const std::string& gateway_id,
                        const std::string& settled_by,
                        const std::string& evidence);

  /// Sets when reconciliation looks at a payment next (and lets go of it).
  status reschedule_check(const std::string& id,
                          const std::string& next_check_at);

  /// Stops reconciliation looking at a payment: it is settled and its order
  /// has heard of it. With `event_id`, that gateway event (still
  /// `received`) is marked processed too, as one write: the webhook that
  /// settled the payment is done with it.
  status close_checks(const std::string& id, const std::string& event_id = {});

  /// `next_check_at` of a payment nobody needs to look at again.
  static constexpr std::string_view no_more_checks = "9999-12-31T00:00:00.000Z";

  /// Claims up to `limit` payments whose next check is due
  /// (`initialized` ones, and `succeeded` or `mismatch` ones whose order has
  /// not confirmed it heard of them)
  /// (`next_check_at <= now`) and that nobody else is checking, leasing them
  /// until `lease_until`.
  expected<std::vector<payment_row>>
  claim_due_checks(const std::string& now, const std::string& lease_until,
                   size_t limit);

  // -- inbox

  /// Stores an event; false if an event with the same (gateway, key) is
  /// there already (a duplicate delivery: nothing written).
  expected<bool> store_event(const inbox_row& row);

  /// Gives up this process's lease on a `received` event (it held it until
  /// `claimed_until`), so any node may claim it at once.
  status release_event(const std::string& id, const std::string& claimed_until);

  /// Claims up to `limit` `received` events due by `now`, leased until
  /// `lease_until`.
  expected<std::vector<inbox_row>>
  claim_due_events(const std::string& now, const std::string& lease_until,
                   size_t limit);

  /// Marks an event processed or ignored (`status`), with a note.
  status finish_event(const std::string& id, const std::string& status,
                      const std::string& note);

  /// Records a failed attempt; the event is tried again at `next_attempt_at`.
  status retry_event(const std::string& id, const std::string& error,
                     const std::string& next_attempt_at);

  expected<std::optional<inbox_row>> find_event(const std::string& gateway,
                                                const std::string& key);

  /// Every gateway event about `reference`, oldest first.
  expected<std::vector<inbox_row>>
  events_with_reference(const std::string& reference);

  // -- refunds

  /// The refund with `idempotency_key`, creating `row` if there is none.
  expected<refund_row> refund_for(const refund_row& row);

  /// Takes a `requested` refund to `asking` until `until`, so that one
  /// caller alone asks the gateway. False if it was not `requested`.
  expected<bool> claim_refund(const std::string& id, const std::string& until);

  /// Moves a refund forward to `status` (requested only from asking;
  /// pending from requested or asking; processed and failed from any open
  /// status), with its gateway id and error. False if it was not in a
  /// status that may move there.
  expected<bool> update_refund(const std::string& id, const std::string& status,
                               const std::string& gateway_id,
                               const std::string& last_error);

  /// Refunds of a payment, oldest first.
  expected<std::vector<refund_row>> refunds_of(const std::string& payment_id);

private:
  database& db_;
};

} // namespace souk::persistence
