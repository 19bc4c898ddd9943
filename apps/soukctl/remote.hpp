#pragma once

// soukctl's commands that talk to a running soukd through its admin API:
// `actors`, `order ID`, `flows`, `retry|cancel|refund ID`.

#include <string>

#include "souk/config/cli.hpp"
#include "souk/config/settings.hpp"

namespace soukctl {

/// Exit codes of every soukctl command.
enum exit_code : int {
  ok = 0,
  failed = 1,     ///< the operation failed (the server said why)
  usage = 2,      ///< bad arguments or config
  auth = 3,       ///< no token, a bad one, or not an operator's
  unreachable = 4 ///< no soukd answered at the URL
};

/// Runs `command` (the first positional word) against the admin API at
/// `--url` / `SOUK_ADMIN_URL` (default: the config's public URL, else its
/// listen address) with the operator token from `--token` /
/// `SOUK_ADMIN_TOKEN`. Prints tables, or JSON with `--json`.
int run_remote(const std::string& command,
               const souk::config::command_line& cli,
               const souk::config::settings& cfg);

/// True if `command` is one `run_remote` handles.
bool is_remote(const std::string& command);

} // namespace soukctl
