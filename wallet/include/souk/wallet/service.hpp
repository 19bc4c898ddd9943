#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "souk/core/error.hpp"

namespace souk::persistence {
class database;
} // namespace souk::persistence

namespace souk::wallet {

/// The platform's fee on a sale: basis points of the gross plus a fixed part
/// per currency, never more than the gross.
struct fee_policy {
  uint32_t basis_points = 500; ///< 5%
  std::map<std::string, int64_t> fixed{{"NGN", 10'000}, {"USD", 30}};
};

/// A sale's gross split into the platform's fee and the creator's net.
struct split {
  int64_t fee = 0;
  int64_t net = 0;
};

/// `gross` (minor units of `currency`) split by `policy`: fee =
/// round_half_up(gross × bp / 10000) + fixed, capped at the gross.
split split_sale(int64_t gross, const std::string& currency,
                 const fee_policy& policy);

/// The refund of `amount` out of a sale split as `sale`, of which
/// `reversed` (creator's part, fee part) went back already: what the creator
/// and the platform each give back, in proportion to the sale. The last
/// refund takes exactly what is left, so a sale refunded in parts reverses
/// exactly.
split split_refund(int64_t gross, const split& sale, const split& reversed,
                   int64_t amount);

struct options {
  fee_policy fees;
  /// How long a sale's net stays pending before it becomes available.
  std::chrono::milliseconds hold{7ll * 24 * 3600 * 1000};
  /// A node's claim on a due hold.
  std::chrono::milliseconds lease{60'000};
  size_t batch = 50;
};

/// The wallet: the flow actions on the ledger — `wallet.credit_sale`,
/// `wallet.reverse_sale` for orders; `wallet.reserve_payout`,
/// `wallet.settle_payout`, `wallet.return_payout` for payouts — and the
/// release of holds.
/// Thread-safe; every call blocks (database).
class service {
public:
  service(std::shared_ptr<persistence::database> db, options opts);
  ~service();

  /// Runs one of `actions()` for an order or a payout (`order_id` is the
  /// flow instance's id); idempotent on `idempotency_key`. A payout the
  /// available balance does not cover fails with `insufficient_funds`.
  status run_action(const std::string& action, const std::string& order_id,
                    const std::string& idempotency_key);

  /// Releases due holds (pending → available, repaying what the creator
  /// owes first). Returns how many.
  size_t run_due();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The flow actions the wallet runs.
const std::vector<std::string>& actions();

} // namespace souk::wallet
