#include "souk/http/ranges.hpp"

#include <algorithm>
#include <optional>

#include "souk/http/message.hpp"

namespace souk::http {

range_answer parse_range(std::string_view header, uint64_t size) {
  range_answer full;
  header = trim_ows(header);
  auto eq = header.find('=');
  if (eq == std::string_view::npos
      || !iequals(trim_ows(header.substr(0, eq)), "bytes"))
    return full;
  auto set = header.substr(eq + 1);
  std::vector<byte_range> wanted;
  size_t specs = 0;
  while (true) {
    auto comma = set.find(',');
    auto spec = trim_ows(set.substr(0, comma));
    if (!spec.empty()) { // empty list elements are allowed (#rule)
      if (++specs > max_ranges)
        return full;
      auto dash = spec.find('-');
      if (dash == std::string_view::npos)
        return full;
      auto a = spec.substr(0, dash);
      auto b = spec.substr(dash + 1);
      if (a.empty()) { // suffix: the last n bytes
        auto n = parse_digits(b);
        if (!n)
          return full;
        if (*n > 0 && size > 0)
          wanted.push_back({size - std::min(*n, size), size - 1});
      } else {
        auto first = parse_digits(a);
        if (!first)
          return full;
        std::optional<uint64_t> last;
        if (!b.empty()) {
          last = parse_digits(b);
          if (!last || *last < *first)
            return full; // invalid range-spec: the header is ignored
        }
        if (*first < size)
          wanted.push_back(
            {*first, std::min(last.value_or(size - 1), size - 1)});
      }
    }
    if (comma == std::string_view::npos)
      break;
    set.remove_prefix(comma + 1);
  }
  if (specs == 0)
    return full;
  if (wanted.empty())
    return {range_answer::kind::unsatisfiable, {}};
  std::sort(
    wanted.begin(), wanted.end(),
    [](const byte_range& x, const byte_range& y) { return x.first < y.first; });
  range_answer out{range_answer::kind::partial, {}};
  for (auto& r : wanted) {
    if (!out.ranges.empty() && r.first <= out.ranges.back().last + 1)
      out.ranges.back().last = std::max(out.ranges.back().last, r.last);
    else
      out.ranges.push_back(r);
  }
  return out;
}

} // namespace souk::http
