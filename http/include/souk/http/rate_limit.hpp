#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace souk::http {

/// Token buckets keyed by a string (e.g. "login|203.0.113.9"): each key may
/// make `burst` requests at once and `per_minute` on average. In memory, per
/// node: it blunts abuse; what must hold across nodes (the per-account login
/// throttle) lives in the database. Thread-safe.
class rate_limiter {
public:
  rate_limiter(double per_minute, double burst);

  /// Takes one token for `key`. nullopt: allowed. Otherwise: refused, and how
  /// long until a token is back.
  std::optional<std::chrono::seconds> take(const std::string& key);

private:
  struct bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  double per_second_;
  double burst_;
  std::mutex mx_;
  std::unordered_map<std::string, bucket> buckets_;
};

} // namespace souk::http
