#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "souk/core/error.hpp"

namespace souk {

using clock = std::chrono::system_clock;
using timestamp = std::chrono::time_point<clock, std::chrono::milliseconds>;

/// The current time, truncated to milliseconds.
timestamp now() noexcept;

/// `t` as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). souk stores every timestamp in
/// this form, in SQLite and PostgreSQL alike: it sorts as text and reads the
/// same in both.
std::string to_iso(timestamp t);

/// Parses the form `to_iso` writes.
expected<timestamp> parse_iso(std::string_view text);

} // namespace souk
