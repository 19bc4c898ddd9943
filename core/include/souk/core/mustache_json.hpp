#pragma once

// JSON as Mustache data, for every folder that renders Mustache templates
// (email, pages). Header-only: kainjow-mustache is header-only too, and
// only the folders that render include this (with MUSTACHE_INCLUDE_DIR).

#include <string>

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

namespace souk {

/// `j` as kainjow-mustache data: objects, lists, strings, booleans; null
/// is false to sections and renders as nothing; numbers render as JSON
/// writes them. With `empty_is_false`, "" is false to sections too (like a
/// missing value), so `{{#x}}` shows only a non-empty `x`.
inline kainjow::mustache::data mustache_data(const nlohmann::json& j,
                                             bool empty_is_false = false) {
  namespace mus = kainjow::mustache;
  switch (j.type()) {
  case nlohmann::json::value_t::object: {
    mus::data d{mus::data::type::object};
    for (auto& [k, v] : j.items())
      d.set(k, mustache_data(v, empty_is_false));
    return d;
  }
  case nlohmann::json::value_t::array: {
    mus::data d{mus::data::type::list};
    for (auto& v : j)
      d.push_back(mustache_data(v, empty_is_false));
    return d;
  }
  case nlohmann::json::value_t::string:
    if (empty_is_false && j.get_ref<const std::string&>().empty())
      return mus::data{mus::data::type::bool_false};
    return mus::data{j.get<std::string>()};
  case nlohmann::json::value_t::boolean:
    return j.get<bool>() ? mus::data{mus::data::type::bool_true}
                         : mus::data{mus::data::type::bool_false};
  case nlohmann::json::value_t::null:
    return mus::data{mus::data::type::bool_false};
  default:
    return mus::data{j.dump()};
  }
}

} // namespace souk
