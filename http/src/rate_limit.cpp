#include "souk/http/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace souk::http {

rate_limiter::rate_limiter(double per_minute, double burst)
  : per_second_(per_minute / 60.0), burst_(std::max(1.0, burst)) {}

std::optional<std::chrono::seconds> rate_limiter::take(const std::string& key) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard guard{mx_};
  if (buckets_.size() > 100'000) {
    // Forget buckets that have refilled: they hold no information.
    std::erase_if(buckets_, [&](auto& kv) {
      auto idle = std::chrono::duration<double>(now - kv.second.last).count();
      return kv.second.tokens + idle * per_second_ >= burst_;
    });
  }
  auto [it, fresh] = buckets_.try_emplace(key, bucket{burst_, now});
  auto& b = it->second;
  if (!fresh) {
    auto elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
    b.last = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  auto wait = per_second_ > 0 ? (1.0 - b.tokens) / per_second_ : 3600.0;
  return std::chrono::seconds{static_cast<int64_t>(std::ceil(wait))};
}

} // namespace souk::http
