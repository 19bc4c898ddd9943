#pragma once

// Payouts on the gateway's side: a creator's payout account (a transfer
// recipient), asking for a payout (a `payout` flow instance of the order
// engine), the flow's `payment.transfer` step, the gateway's transfer
// events and reconciliation of transfers in flight. The money moves in the
// wallet's steps (docs/wallet.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "souk/core/error.hpp"
#include "souk/payments/service.hpp"

namespace souk::persistence {
class database;
struct payout_account_row;
struct payout_view;
} // namespace souk::persistence

namespace souk::payments {

class gateway;
struct webhook_event;

struct payout_options {
  /// The flow a new payout runs (a template of kind `payout`).
  std::string flow = "payout";
  /// The smallest payout per currency, in minor units; a currency not
  /// listed cannot be paid out.
  std::map<std::string, int64_t> minimum{{"NGN", 100'000}, {"USD", 1'000}};
  /// Reconciliation asks the gateway about a transfer this long after the
  /// payout was asked for, then at doubling intervals up to the maximum...
  std::chrono::milliseconds reconcile_after{10 * 60'000};
  std::chrono::milliseconds reconcile_max_interval{60 * 60'000};
  /// ...and a transfer the gateway still does not know after this long
  /// (its step gave up) is failed and its money returned.
  std::chrono::milliseconds reconcile_for{72ll * 3600'000};
  /// A node's claim on a payout it is checking.
  std::chrono::milliseconds lease{60'000};
  size_t batch = 50;
  /// How long a request holds its Idempotency-Key.
  std::chrono::milliseconds key_lock{60'000};
};

/// A creator's bank account, as the HTTP layer hands it over.
struct account_request {
  std::string creator_id;
  std::string currency;
  std::string type = "nuban";
  std::string name;
  std::string account_number;
  std::string bank_code;
};

/// A payout as the HTTP layer hands it over.
struct payout_request {
  std::string creator_id;
  int64_t amount = 0; ///< minor units
  std::string currency;
  /// The Idempotency-Key, its scope, and a hash of the request.
  std::string idempotency_key;
  std::string scope;
  std::string request_hash;
};

/// The answer to a payout request, as first given.
struct payout_answer {
  unsigned status = 201;
  std::string body;
  bool replayed = false;
};

/// The payout as the API shows it.
nlohmann::json describe(const persistence::payout_view& v);

/// The payout account as the API shows it.
nlohmann::json describe(const persistence::payout_account_row& a);

/// Thread-safe; every call blocks (database, gateway).
class payouts {
public:
  payouts(std::shared_ptr<persistence::database> db,
          std::shared_ptr<gateway> gw, order_port orders, payout_options opts);
  ~payouts();

  /// Registers (or replaces) the creator's payout account for a currency
  /// with the gateway. Errors: `invalid_field` naming the field (also when
  /// the gateway refuses the account), `unavailable` (gateway).
  expected<persistence::payout_account_row>
  save_account(const account_request& r);

  /// Asks for a payout from the available balance: a new `payout` flow
  /// instance with its payout row and the stored answer, in one
  /// transaction. Errors: `invalid_field` (amount, currency, below the
  /// minimum), `payout_account_missing`, `insufficient_funds` (the balance
  /// does not cover it now; a payout that passes this check can still be
  /// rejected by the flow when a concurrent one takes the money first),
  /// `idempotency_mismatch`, `conflict` (key in use).
  expected<payout_answer> request(const payout_request& r);

  /// Runs `payment.transfer` for a payout.
  status run_action(const std::string& action, const std::string& payout_id,
                    const std::string& idempotency_key);

  /// A `transfer.*` event from the gateway (its signature checked): the
  /// transfer is verified with the gateway and its flow told. `not_found`
  /// for a transfer that is not ours.
  status on_event(const webhook_event& ev);

  /// One round of reconciliation of transfers in flight. Returns how many
  /// payouts it looked at.
  size_t run_due();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The flow actions this class runs.
const std::vector<std::string>& payout_actions();

} // namespace souk::payments
