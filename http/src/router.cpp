#include "souk/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace souk::http {

namespace {

// Splits "/a/b/c" into {"a", "b", "c"}; "/" gives {}. Keeps empty segments
// ("/a//b") so that they never match a pattern by accident.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/')
    return out;
  path.remove_prefix(1);
  if (path.empty())
    return out;
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool matches(const std::vector<std::string>& pattern,
             const std::vector<std::string>& path,
             std::map<std::string, std::string>* params) {
  if (pattern.size() != path.size())
    return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (is_param(pattern[i])) {
      if (path[i].empty())
        return false;
      if (params)
        (*params)[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

} // namespace

void router::add(std::string method, std::string pattern, handler h) {
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("route pattern must start with '/': "
                                + pattern);
  for (auto& e : entries_)
    if (e.method == method && e.pattern == pattern)
      throw std::invalid_argument("duplicate route " + method + " " + pattern);
  std::vector<std::string> segments;
  for (auto s : split_path(pattern))
    segments.emplace_back(s);
  entries_.push_back({std::move(method), std::move(pattern),
                      std::move(segments), std::move(h), nullptr, 0});
}

void router::add_stream(std::string method, std::string pattern,
                        stream_handler h, uint64_t body_limit) {
  add(method, pattern, nullptr);
  entries_.back().sh = std::move(h);
  entries_.back().stream_limit = body_limit;
}

router::match_result router::match(std::string_view method,
                                   std::string_view path) const {
  match_result result;
  // Split before decoding, so that an encoded '/' stays inside its segment.
  std::vector<std::string> parts;
  for (auto raw : split_path(path)) {
    auto decoded = percent_decode(raw);
    if (!decoded)
      return result;
    parts.push_back(std::move(*decoded));
  }
  if (path != "/" && parts.empty())
    return result;
  auto find = [&](std::string_view m) -> const entry* {
    for (auto& e : entries_)
      if (e.method == m && matches(e.segments, parts, nullptr))
        return &e;
    return nullptr;
  };
  auto hit = find(method);
  if (hit == nullptr && method == "HEAD")
    hit = find("GET");
  if (hit != nullptr) {
    matches(hit->segments, parts, &result.params);
    result.pattern = &hit->pattern;
    if (hit->sh) {
      result.stream_target = &hit->sh;
      result.stream_limit = hit->stream_limit;
    } else {
      result.target = &hit->h;
    }
    return result;
  }
  for (auto& e : entries_)
    if (matches(e.segments, parts, nullptr)
        && std::find(result.allowed.begin(), result.allowed.end(), e.method)
             == result.allowed.end())
      result.allowed.push_back(e.method);
  return result;
}

std::vector<router::route_info> router::routes() const {
  std::vector<route_info> out;
  for (auto& e : entries_)
    out.push_back({e.method, e.pattern});
  return out;
}

} // namespace souk::http
