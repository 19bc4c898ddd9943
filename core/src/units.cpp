#include "souk/core/units.hpp"

#include <array>
#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace souk {

namespace {

struct unit {
  std::string_view name;
  uint64_t factor;
};

// Longest names first so "ms" is not read as "m" followed by junk.
constexpr std::array<unit, 5> duration_units{{
  {"ms", 1},
  {"s", 1000},
  {"m", 60'000},
  {"h", 3'600'000},
  {"d", 86'400'000},
}};

constexpr std::array<unit, 8> size_units{{
  {"KiB", 1ull << 10},
  {"MiB", 1ull << 20},
  {"GiB", 1ull << 30},
  {"TiB", 1ull << 40},
  {"KB", 1'000},
  {"MB", 1'000'000},
  {"GB", 1'000'000'000},
  {"B", 1},
}};

bool mul_add(uint64_t& acc, uint64_t n, uint64_t factor) {
  constexpr auto max = std::numeric_limits<uint64_t>::max();
  if (factor != 0 && n > max / factor)
    return false;
  if (acc > max - n * factor)
    return false;
  acc += n * factor;
  return true;
}

// Reads leading digits of `text` into `out`; returns how many were consumed.
size_t read_digits(std::string_view text, uint64_t& out, bool& overflow) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  overflow = ec == std::errc::result_out_of_range;
  return static_cast<size_t>(ptr - text.data());
}

} // namespace

expected<uint64_t> parse_uint(std::string_view text) {
  uint64_t value = 0;
  bool overflow = false;
  auto n = read_digits(text, value, overflow);
  if (overflow)
    return error{errc::invalid_field, fmt::format("'{}' is too large", text)};
  if (text.empty() || n != text.size())
    return error{
      errc::invalid_field,
      fmt::format("expected a non-negative integer, got '{}'", text)};
  return value;
}

expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return error{errc::invalid_field,
                 fmt::format("expected a duration like 250ms, 30s, 5m, 2h or "
                             "1h30m, got '{}'",
                             text)};
  };
  if (text.empty())
    return bad();
  uint64_t total = 0;
  auto rest = text;
  while (!rest.empty()) {
    uint64_t n = 0;
    bool overflow = false;
    auto digits = read_digits(rest, n, overflow);
    if (digits == 0 || overflow)
      return bad();
    rest.remove_prefix(digits);
    const unit* match = nullptr;
    for (auto& u : duration_units)
      if (rest.starts_with(u.name)) {
        match = &u;
        break;
      }
    if (match == nullptr)
      return bad();
    rest.remove_prefix(match->name.size());
    if (!mul_add(total, n, match->factor)
        || total > static_cast<uint64_t>(
             std::numeric_limits<std::chrono::milliseconds::rep>::max()))
      return bad();
  }
  return std::chrono::milliseconds{static_cast<int64_t>(total)};
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms <= 0)
    return "0s";
  std::string out;
  for (auto it = duration_units.rbegin(); it != duration_units.rend(); ++it) {
    auto f = static_cast<int64_t>(it->factor);
    if (ms >= f) {
      out += fmt::format("{}{}", ms / f, it->name);
      ms %= f;
    }
  }
  return out;
}

expected<uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    return error{errc::invalid_field,
                 fmt::format("expected a size like 4096, 64KiB, 1MiB or 1GB, "
                             "got '{}'",
                             text)};
  };
  uint64_t n = 0;
  bool overflow = false;
  auto digits = read_digits(text, n, overflow);
  if (digits == 0 || overflow)
    return bad();
  auto suffix = text.substr(digits);
  if (suffix.empty())
    return n;
  for (auto& u : size_units)
    if (suffix == u.name) {
      uint64_t total = 0;
      if (!mul_add(total, n, u.factor))
        return bad();
      return total;
    }
  return bad();
}

std::string format_size(uint64_t bytes) {
  constexpr std::array<unit, 4> binary{{
    {"TiB", 1ull << 40},
    {"GiB", 1ull << 30},
    {"MiB", 1ull << 20},
    {"KiB", 1ull << 10},
  }};
  for (auto& u : binary)
    if (bytes >= u.factor && bytes % u.factor == 0)
      return fmt::format("{}{}", bytes / u.factor, u.name);
  return fmt::format("{}B", bytes);
}

std::string format_money(int64_t amount, std::string_view currency) {
  auto negative = amount < 0;
  // Via uint64_t, so that INT64_MIN has a magnitude.
  auto magnitude = negative ? 0 - static_cast<uint64_t>(amount)
                            : static_cast<uint64_t>(amount);
  auto major = std::to_string(magnitude / 100);
  std::string grouped;
  for (size_t i = 0; i < major.size(); ++i) {
    if (i > 0 && (major.size() - i) % 3 == 0)
      grouped += ',';
    grouped += major[i];
  }
  return fmt::format("{} {}{}.{:02}", currency, negative ? "-" : "", grouped,
                     magnitude % 100);
}

} // namespace souk
