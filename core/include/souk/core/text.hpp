#pragma once

// Small text helpers shared by the layers (HTTP headers, settings).

#include <string>
#include <string_view>

namespace souk {

/// `s` without the spaces and tabs around it (OWS, RFC 9110 §5.6.3).
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// `s` with ASCII letters in lowercase (header names, emails, origins,
/// setting values); other bytes as they are.
inline std::string ascii_lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

} // namespace souk
