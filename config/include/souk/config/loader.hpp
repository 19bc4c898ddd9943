#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "souk/config/settings.hpp"
#include "souk/core/error.hpp"

namespace souk::config {

/// Where values come from, applied in this order (later wins): defaults, the
/// YAML file, `SOUK_*` environment variables, command-line flags.
struct sources {
  /// The YAML file, if any (`--config FILE` / `SOUK_CONFIG`).
  std::optional<std::string> file;
  /// The process environment as name/value pairs. Variables starting with
  /// `SOUK_` must name a known key (`SOUK_HTTP_BODY_LIMIT` for
  /// `http.body_limit`); `SOUK_CONFIG` and `SOUK_TEST_*` are reserved.
  std::vector<std::pair<std::string, std::string>> env;
  /// Flag values by key, e.g. {"listen", "0.0.0.0:80"}, in command-line order.
  std::vector<std::pair<std::string, std::string>> flags;
};

/// The loaded settings plus, for each key, where its value came from
/// ("default", "souk.yaml:3:5", "env SOUK_LISTEN", "flag --listen").
struct loaded {
  settings values;
  std::map<std::string, std::string> origin;
};

/// Loads and validates the configuration. Unknown keys, duplicate keys and bad
/// values are `errc::config` errors whose detail names the key and where it
/// was found, e.g. "souk.yaml:3:5: unknown key 'http.body_limt'".
expected<loaded> load(const sources& src);

/// Every known key with its environment variable and help text, in file
/// order; used by `--help` and the docs test.
struct key_info {
  std::string key;
  std::string env;
  std::string help;
};
std::vector<key_info> known_keys();

/// Renders `x` as `key: value  # origin` lines, with passwords in URLs
/// masked (for `soukd --check-config`).
std::string describe(const loaded& x);

/// The environment of this process as name/value pairs.
std::vector<std::pair<std::string, std::string>> process_env();

} // namespace souk::config
