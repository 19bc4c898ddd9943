#pragma once

#include <string>
#include <string_view>

namespace souk {

/// SHA-256 of `data`, lowercase hex (64 characters). Thread-safe.
std::string sha256_hex(std::string_view data);

/// HMAC-SHA-512 of `data` keyed with `key` (any length), lowercase hex (128
/// characters): how Paystack signs webhooks. Thread-safe.
std::string hmac_sha512_hex(std::string_view key, std::string_view data);

/// True if `a` and `b` are equal, in time that depends only on their
/// lengths (for comparing signatures and secrets).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

} // namespace souk
