#include "souk/core/time.hpp"

#include <cstdio>

#include <fmt/format.h>

namespace souk {

timestamp now() noexcept {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(clock::now());
}

std::string to_iso(timestamp t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss hms{t - day};
  return fmt::format(
    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
    hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
    hms.subseconds().count());
}

expected<timestamp> parse_iso(std::string_view text) {
  using namespace std::chrono;
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  char z = 0;
  std::string buf{text};
  if (text.size() != 24
      || std::sscanf(buf.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u.%3u%c", &y, &mo, &d,
                     &h, &mi, &s, &ms, &z)
           != 8
      || z != 'Z' || h > 23 || mi > 59 || s > 59)
    return error{errc::invalid_field,
                 fmt::format("expected a UTC timestamp like "
                             "2026-01-31T12:00:00.000Z, got '{}'",
                             text)};
  year_month_day ymd{year{y}, month{mo}, day{d}};
  if (!ymd.ok())
    return error{errc::invalid_field,
                 fmt::format("'{}' is not a calendar date", text)};
  return timestamp{sys_days{ymd}.time_since_epoch() + hours{h} + minutes{mi}
                   + seconds{s} + milliseconds{ms}};
}

} // namespace souk
