#pragma once

// Settings for a souk node embedded in a test: its own files under `dir`,
// the scratch database, flows from `dir/flows`, cheap password hashing, no
// rate limits, quick timers. Header-only: only tests that embed a node
// (and so link souk_config) include it.

#include <chrono>
#include <filesystem>
#include <string>

#include "souk/config/settings.hpp"

namespace souk::testing {

inline void embedded_node_settings(config::settings& cfg,
                                   const std::filesystem::path& dir,
                                   const std::string& database_url) {
  using namespace std::chrono_literals;
  cfg.listen = "127.0.0.1:0";
  cfg.data_dir = (dir / "data").string();
  cfg.database.url = database_url;
  cfg.log.access_log = false;
  cfg.flows.directory = (dir / "flows").string();
  cfg.auth.password_hash_ops = 1;
  cfg.auth.password_hash_memory = 64 << 10;
  cfg.auth.rate_limit_per_minute = 1'000'000;
  cfg.auth.rate_limit_burst = 1'000'000;
  cfg.orders.timer_poll = 100ms;
}

} // namespace souk::testing
