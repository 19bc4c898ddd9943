#pragma once

// What must hold after the load drains, whatever was killed on the way:
// every order ended or is parked with a reason; every paid order was
// credited once, granted once, sent one receipt and delivered once; nothing
// went to an unpaid order; the ledger proves; no webhook the gateway saw
// answered 2xx is missing from souk's inbox.

#include <string>
#include <vector>

#include "run.hpp"

namespace souk::persistence {
class database;
}

namespace souk::load {

struct check_report {
  std::vector<std::string> failures; ///< empty: everything held
  std::vector<std::string> notes;    ///< figures worth printing
};

/// Waits (up to `o.drain_limit`) until no order, webhook or receipt is
/// still in flight; false if something still is.
bool drain(persistence::database& db, const options& o, std::string& left);

check_report check_all(persistence::database& db, const options& o,
                       const std::vector<order_record>& records,
                       const std::string& database_url,
                       const std::string& sandbox_url,
                       const std::string& sandbox_key, size_t files_per_order);

} // namespace souk::load
