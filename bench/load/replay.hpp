#pragma once

// The order's own SQL, replayed by pgbench with soukd stopped: how many
// orders per second the database allows when it runs nothing else
// (bench/load/sql/, bench/README.md "The order's SQL alone").

#include <cstdint>
#include <filesystem>
#include <string>

namespace souk::persistence {
class database;
}

namespace souk::load {

struct replay_result {
  double orders_per_second = -1; ///< negative when the replay failed
  std::string error;             ///< pgbench's complaint, when it failed
};

/// Runs `script` (one order per run of it) with `clients` pgbench clients
/// for `seconds` against souk's database at `url`, whose shop (`db`) has
/// sold at least once: the product, its file and its ledger accounts are
/// taken from it. Any failed statement fails the replay.
replay_result replay_order_sql(persistence::database& db,
                               const std::string& url,
                               const std::filesystem::path& script,
                               const std::filesystem::path& work,
                               uint32_t clients, uint32_t seconds);

} // namespace souk::load
