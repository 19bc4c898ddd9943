#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// One row of `flow_templates`: the exact text of a template some order
/// started with.
struct flow_template_row {
  std::string hash; ///< SHA-256 hex of `source`
  std::string name;
  int32_t version = 0;
  std::string source;
  std::string created_at;
};

/// Keeps the templates orders pinned. Blocking; thread-safe.
class flow_template_repository {
public:
  explicit flow_template_repository(database& db) : db_(db) {}

  /// Stores `row` unless a row with its hash exists (same hash, same bytes).
  /// An empty `created_at` is set to now.
  status save(const flow_template_row& row);

  /// The template with this hash, or nullopt.
  expected<std::optional<flow_template_row>> find(const std::string& hash);

private:
  database& db_;
};

} // namespace souk::persistence
