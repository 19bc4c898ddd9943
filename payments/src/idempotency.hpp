#pragma once

// Claiming an Idempotency-Key the same way for every idempotent request
// (checkout, payout requests). Internal to payments/.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "souk/core/error.hpp"
#include "souk/core/time.hpp"
#include "souk/persistence/payments.hpp"

namespace souk::payments::detail {

/// The first answer to a request made again with its key.
struct replay {
  int32_t status = 0;
  std::string body;
};

/// Claims `key` in `scope` for a request whose hash is `hash`: nullopt when
/// the caller now holds it (do the work, store the answer with it, or
/// release it on failure); the stored answer for a replay. Errors name the
/// header: a missing or over-long key (`why` says what the key protects,
/// e.g. "retrying a checkout never buys twice"), another request under the
/// key (`idempotency_mismatch`), one still running (`conflict`, retry
/// after a second).
inline expected<std::optional<replay>>
claim_key(persistence::payment_repository& repo, const std::string& scope,
          const std::string& key, const std::string& hash,
          std::chrono::milliseconds lock, std::string_view why) {
  if (key.empty() || key.size() > 255)
    return error{errc::invalid_field,
                 "the Idempotency-Key header is required (1-255 characters, "
                 "e.g. a UUID), so that "
                   + std::string{why},
                 "Idempotency-Key"};
  auto claim = repo.claim_key(scope, key, hash, to_iso(now() + lock));
  if (!claim)
    return claim.err();
  switch (claim->kind) {
  case persistence::idempotency_claim::replay:
    return std::optional<replay>{replay{claim->status, claim->body}};
  case persistence::idempotency_claim::mismatch:
    return error{errc::idempotency_mismatch,
                 "this Idempotency-Key was used for a different request; use "
                 "a new key for a new request",
                 "Idempotency-Key"};
  case persistence::idempotency_claim::in_progress: {
    error busy{errc::conflict,
               "a request with this Idempotency-Key is still running; try "
               "again in a moment"};
    busy.retry_after = std::chrono::seconds{1};
    return busy;
  }
  case persistence::idempotency_claim::owned:
    break;
  }
  return std::optional<replay>{};
}

} // namespace souk::payments::detail
