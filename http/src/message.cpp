#include "souk/http/message.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace souk::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

std::optional<std::string_view> request::header(std::string_view name) const {
  for (auto& [key, value] : headers)
    if (key == name)
      return std::string_view{value};
  return std::nullopt;
}

std::optional<std::string_view>
request::query_param(std::string_view name) const {
  for (auto& [key, value] : query)
    if (key == name)
      return std::string_view{value};
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size())
      return std::nullopt;
    auto hi = hex_value(text[i + 1]);
    auto lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>>
decode_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{}
                                          : query.substr(amp + 1);
    if (part.empty())
      continue;
    auto eq = part.find('=');
    std::string key{part.substr(0, eq)};
    std::string value{eq == std::string_view::npos ? std::string_view{}
                                                   : part.substr(eq + 1)};
    for (auto* s : {&key, &value})
      for (auto& c : *s)
        if (c == '+')
          c = ' ';
    auto k = percent_decode(key);
    auto v = percent_decode(value);
    if (!k || !v)
      return std::nullopt;
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

std::optional<uint64_t> parse_digits(std::string_view s) {
  if (s.empty())
    return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9')
      return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

} // namespace souk::http
