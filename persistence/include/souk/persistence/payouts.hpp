#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"

namespace souk::persistence {

/// One row of `payout_accounts`: where a creator is paid in one currency.
struct payout_account_row {
  std::string creator_id;
  std::string currency;
  std::string gateway;
  std::string recipient_code;
  std::string type; ///< nuban, ghipss, mobile_money, basa
  std::string account_name;
  std::string bank_code;
  std::string account_last4;
  std::string created_at;
  std::string updated_at;
};

/// One row of `payouts`. Optional columns are empty strings for NULL.
struct payout_row {
  std::string id; ///< also its flow instance's id in `orders`
  std::string creator_id;
  int64_t amount = 0;
  std::string currency;
  std::string gateway;
  std::string recipient_code;
  std::string reference;
  /// unsent, pending, success, failed or reversed; only moves forward.
  std::string transfer_status = "unsent";
  std::string transfer_code;
  std::string gateway_status;
  std::string reason;
  int32_t checks = 0;
  std::string next_check_at;
  std::string created_at;
  std::string updated_at;
};

/// A payout with where its flow stands.
struct payout_view {
  payout_row payout;
  std::string state;      ///< its flow's state
  std::string last_error; ///< its flow's last error
  std::string state_entered_at;
};

/// The rows asking for a payout writes in ONE transaction: its flow instance
/// (as the order engine planned it), the payout, and the stored answer of
/// the Idempotency-Key request.
struct payout_rows {
  order_row instance;
  event_row first_event;
  std::vector<timer_row> timers;
  std::vector<outbox_row> outbox;
  payout_row payout;
  idempotency_answer answer;
};

/// Payout accounts and payouts. Thread-safe; every call blocks on the
/// database.
class payout_repository {
public:
  explicit payout_repository(database& db) : db_(db) {}

  /// Creates or replaces the creator's account for its currency.
  status save_account(const payout_account_row& a);

  /// The creator's account for `currency`, if any.
  expected<std::optional<payout_account_row>>
  account(const std::string& creator_id, const std::string& currency);

  /// Every account of the creator, by currency.
  expected<std::vector<payout_account_row>>
  accounts_of(const std::string& creator_id);

  /// Writes `rows` in one transaction; nothing on any error.
  status create(const payout_rows& rows);

  expected<std::optional<payout_row>> find(const std::string& id);
  expected<std::optional<payout_row>>
  find_by_reference(const std::string& reference);

  /// The payout with its flow's state.
  expected<std::optional<payout_view>> view(const std::string& id);

  /// The creator's payouts, newest first, `limit` of them after the cursor
  /// `before` (a payout id; empty: the newest).
  expected<std::vector<payout_view>> list(const std::string& creator_id,
                                          size_t limit,
                                          const std::string& before = {});

  /// Records what the gateway said about the transfer. `to` (pending,
  /// success, failed, reversed) only replaces a status before it (unsent →
  /// pending → success → reversed; unsent or pending → failed, reversed):
  /// false, and nothing written, if the payout is there already or beyond,
  /// or (for `failed`) while someone holds the right to send it.
  /// Empty arguments keep what is stored.
  expected<bool> record_transfer(const std::string& id, const std::string& to,
                                 const std::string& transfer_code,
                                 const std::string& gateway_status,
                                 const std::string& reason);

  /// Takes the right to ask the gateway for the transfer until `until`:
  /// only while it is `unsent` and nobody else holds it. While it is held,
  /// `record_transfer` refuses `failed`, so no money goes back while a
  /// request for the transfer may still reach the gateway.
  expected<bool> claim_send(const std::string& id, const std::string& now,
                            const std::string& until);
  status release_send(const std::string& id);

  /// Records why a payout did not go ahead (kept once written).
  status set_reason(const std::string& id, const std::string& reason);

  /// Counts a reconciliation look and sets the next (releasing the claim).
  status reschedule(const std::string& id, const std::string& next_check_at,
                    const std::string& gateway_status = {});

  /// Reconciliation need not look any more: the flow has the final word.
  status close_checks(const std::string& id);

  /// Claims up to `limit` payouts whose next check is due by `now` and that
  /// nobody else is checking, leasing them until `lease_until`.
  expected<std::vector<payout_row>> claim_due(const std::string& now,
                                              const std::string& lease_until,
                                              size_t limit);

private:
  database& db_;
};

} // namespace souk::persistence
