#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "souk/core/error.hpp"

namespace souk {

/// Parses a duration such as "250ms", "30s", "5m", "2h", "7d" or a compound
/// "1h30m". Units are required; parts are non-negative integers. Used by the
/// config file and flow templates alike, so both accept the same spelling.
expected<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Formats `d` in the shortest exact form `parse_duration` reads back
/// (e.g. 90000ms -> "1m30s").
std::string format_duration(std::chrono::milliseconds d);

/// Parses a byte size: "4096", "512B", "64KiB", "1MiB", "2GiB" (powers of
/// 1024) or "10KB", "5MB", "1GB" (powers of 1000). Overflow is an error.
expected<uint64_t> parse_size(std::string_view text);

/// Formats `bytes` exactly, using the largest binary unit that divides it.
std::string format_size(uint64_t bytes);

/// `amount` (minor units) in major units with the currency, for people,
/// e.g. "NGN 5,000.00" (every supported currency has 100 minor units).
std::string format_money(int64_t amount, std::string_view currency);

/// Parses a non-negative decimal integer that fits in `uint64_t`; no sign,
/// no spaces, no trailing junk (unlike `atoi`).
expected<uint64_t> parse_uint(std::string_view text);

} // namespace souk
