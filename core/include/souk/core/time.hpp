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

/// A calendar day (UTC).
using day_point = std::chrono::sys_days;

/// `d` as "YYYY-MM-DD", the first ten characters of `to_iso` on that day.
std::string to_iso_day(day_point d);

/// Parses "YYYY-MM-DD" (exactly: four-digit year, two-digit month and day)
/// into a calendar day; `errc::invalid_field` for anything else, including
/// days that do not exist (2026-02-30).
expected<day_point> parse_iso_day(std::string_view text);

/// The day `t` falls on (UTC).
day_point day_of(timestamp t) noexcept;

} // namespace souk
