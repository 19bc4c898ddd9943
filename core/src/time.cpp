#include "souk/core/time.hpp"

#include <cctype>
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

std::string to_iso_day(day_point d) {
  using namespace std::chrono;
  year_month_day ymd{d};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()));
}

expected<day_point> parse_iso_day(std::string_view text) {
  using namespace std::chrono;
  auto digits = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i])))
        return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  int y = -1, mo = -1, d = -1;
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    y = digits(0, 4);
    mo = digits(5, 2);
    d = digits(8, 2);
  }
  if (y < 0 || mo < 0 || d < 0)
    return error{
      errc::invalid_field,
      fmt::format("expected a date like 2026-01-31, got '{}'", text)};
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                     day{static_cast<unsigned>(d)}};
  if (!ymd.ok())
    return error{errc::invalid_field,
                 fmt::format("'{}' is not a calendar date", text)};
  return sys_days{ymd};
}

day_point day_of(timestamp t) noexcept {
  return std::chrono::floor<std::chrono::days>(t);
}

} // namespace souk
