#pragma once

#include <cstdint>
#include <string>

#include "souk/core/error.hpp"
#include "souk/persistence/database.hpp"

namespace souk::persistence {

/// Rows kept only for a while, and how long (cut-off times as ISO text).
struct prune_before {
  /// Sessions that expired before this go, with their address and user
  /// agent (a revoked session goes once it would have expired).
  std::string sessions_expired;
  /// Idempotency keys made before this go, unless a request still holds
  /// the key; a later request with the same key runs as a new one.
  std::string idempotency_created;
  /// Login throttles whose last failure came before this and that block
  /// nobody now go: the failures they counted are forgotten.
  std::string throttle_failed;
  /// The time now (a held key or a block is compared with it).
  std::string now;
};

/// How many rows each kind lost.
struct pruned {
  int64_t sessions = 0;
  int64_t idempotency_keys = 0;
  int64_t throttles = 0;
  int64_t total() const { return sessions + idempotency_keys + throttles; }
};

/// Deletes at most `limit` rows of each kind that are past their time, in
/// one short transaction per kind (so a large backlog never holds locks
/// for long): call again while it returns `limit` of any kind.
expected<pruned> prune(database& db, const prune_before& before, int64_t limit);

} // namespace souk::persistence
