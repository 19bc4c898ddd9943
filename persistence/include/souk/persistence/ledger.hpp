#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// An account's id: `creator:<user id>:<CUR>:<kind>` for a creator's
/// (`pending`, `available`, `in_transit`, `paid_out`, `owed`),
/// `platform:<CUR>:<kind>` for the platform's (`gateway`: money the gateway
/// holds for us, which goes negative as money enters; `fees`).
std::string creator_account(std::string_view user_id, std::string_view currency,
                            std::string_view kind);
std::string platform_account(std::string_view currency, std::string_view kind);

/// One leg of a posting: `amount` (> 0) leaves `from` and arrives in `to`.
struct leg {
  std::string from;
  std::string to;
  int64_t amount = 0;
};

/// One row of `wallet_holds`: when a sale's net becomes available.
struct hold_row {
  std::string order_id;
  std::string creator_id;
  std::string currency;
  std::string release_at;
  std::string status = "held"; ///< held or released
};

/// Money moving between accounts, all legs at once or none.
struct posting {
  /// Unique per posting: posting it again is a no-op that reports
  /// `already`; the same key with other legs is an error.
  std::string key;
  std::string currency;
  std::string cause_kind; ///< sale, hold_release, refund, payout, ...
  std::string cause_id;   ///< the order, refund or payout
  std::string memo;
  std::vector<leg> legs;
  /// A sale's hold (when its pending money may be released), recorded in
  /// the posting's transaction; also recorded, if missing, when the posting
  /// was made before.
  std::optional<hold_row> hold;
};

/// What `post` did.
enum class posted { done, already };

/// One row of `ledger_entries`.
struct entry_row {
  std::string id;
  std::string posting_id;
  std::string idempotency_key;
  std::string debit_account;
  std::string credit_account;
  int64_t amount = 0;
  std::string currency;
  std::string cause_kind;
  std::string cause_id;
  std::string memo;
  std::string created_at;
};

/// One row of `ledger_accounts`.
struct account_row {
  std::string id;
  std::string owner_kind;
  std::string owner_id;
  std::string currency;
  std::string kind;
  bool may_go_negative = false;
  int64_t balance = 0;
};

/// What `check` found wrong; empty when the ledger is sound.
struct ledger_report {
  size_t accounts = 0;
  size_t entries = 0;
  std::vector<std::string> problems;
};

/// One day of a creator's sales in one currency, from the ledger
/// (`ledger_repository::sales_by_day`).
struct sales_day_row {
  std::string day; ///< YYYY-MM-DD (UTC), of the entries' `created_at`
  std::string currency;
  int64_t sales = 0;   ///< sale postings crediting the creator
  int64_t net = 0;     ///< what those sales credited the creator
  int64_t fees = 0;    ///< what those sales credited the platform's fees
  int64_t refunds = 0; ///< what refund postings took back from the creator
};

/// The double-entry ledger. Thread-safe; every call blocks on the database.
class ledger_repository {
public:
  explicit ledger_repository(database& db) : db_(db) {}

  /// Writes every leg of `p` in one transaction, creating accounts on first
  /// use. A leg that would take a protected account below zero fails the
  /// whole posting with `errc::conflict` naming the account (a guarded
  /// update: safe under any concurrency). `errc::invalid_field` for a
  /// posting without legs, a leg of amount <= 0, an account of another
  /// currency, or a key reused with other legs.
  ///
  /// `per_cause` names accounts whose money is attributed per cause (a
  /// creator's `pending` holds many sales): from these the posting may take
  /// only what `p.cause_id` has there (its credits minus debits), checked
  /// under a lock on the cause in the same transaction, so two postings
  /// racing on one cause cannot both take the same money (`errc::conflict`
  /// for the second).
  expected<posted> post(const posting& p,
                        const std::vector<std::string>& per_cause = {});

  /// An account, if it exists.
  expected<std::optional<account_row>> account(const std::string& id);

  /// Every account of `owner_id` (a creator), by currency and kind.
  expected<std::vector<account_row>> accounts_of(const std::string& owner_id);

  /// Entries touching any of `account_ids`, newest first, `limit` of them
  /// after the cursor `before` (an entry id; empty: the newest).
  expected<std::vector<entry_row>>
  entries_of(const std::vector<std::string>& account_ids, size_t limit,
             const std::string& before = {});

  /// Entries of one posting, by leg.
  expected<std::vector<entry_row>> posting_entries(const std::string& key);

  /// What `account` gained (credits minus debits) through entries caused
  /// by `cause_id`, optionally only of `cause_kind`.
  expected<int64_t> net_of(const std::string& account,
                           const std::string& cause_id,
                           const std::string& cause_kind = {});

  /// The sales and refunds of creator `creator_id`, per currency and day
  /// from `from` to `to` (both included), ordered by currency and day; days
  /// without any are left out. A sale is a posting of cause `sale` with a
  /// leg crediting one of the creator's accounts; a refund, the legs of
  /// cause `refund` debiting one. One query, grouped in the database.
  expected<std::vector<sales_day_row>>
  sales_by_day(const std::string& creator_id, day_point from, day_point to);

  /// Schedules a sale's release (once per order; again is a no-op).
  status add_hold(const hold_row& h);

  /// Claims up to `limit` holds due by `now`, leased until `lease_until`.
  expected<std::vector<hold_row>>
  claim_due_holds(const std::string& now, const std::string& lease_until,
                  size_t limit);

  /// Marks a hold released.
  status finish_hold(const std::string& order_id);

  /// The hold of an order, if any.
  expected<std::optional<hold_row>> hold_of(const std::string& order_id);

  /// Proves the ledger: per currency the balances sum to zero (every entry
  /// debits what it credits), every balance equals its entries' credits
  /// minus debits, no protected account is negative, and every entry's
  /// accounts are in its currency.
  expected<ledger_report> check();

private:
  database& db_;
};

} // namespace souk::persistence
