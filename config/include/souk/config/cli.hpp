#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "souk/config/loader.hpp"
#include "souk/core/error.hpp"

namespace souk::config {

/// A parsed command line: config sources plus the program's own switches and
/// positional words.
struct command_line {
  sources src;                               ///< file, env and flags to load
  std::set<std::string> switches;            ///< e.g. "check-config", "json"
  std::map<std::string, std::string> values; ///< the program's own options
  std::vector<std::string> positional;
};

/// Parses `argv`. Understands the config flags shared by soukd and soukctl:
/// `--config FILE`, `--listen HOST:PORT`, `--data-dir DIR`, `--database URL`,
/// `--public-url URL`, `--log-level LEVEL`, `--log-format text|json` and
/// `--set KEY=VALUE` (any key of the config file); values may also be given as
/// `--flag=value`. `switches` names the value-less flags the program accepts,
/// `options` its own flags that take a value (they land in `values`).
/// The environment is read from this process. Unknown flags are errors.
expected<command_line>
parse_command_line(int argc, char** argv, const std::set<std::string>& switches,
                   const std::set<std::string>& options = {});

/// The help text for the shared config flags.
std::string config_flags_help();

} // namespace souk::config
