#include "souk/http/json.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "souk/http/problem.hpp"

namespace souk::http {

response json_response(unsigned status, const nlohmann::json& body) {
  response res;
  res.status = status;
  res.content_type = "application/json";
  res.body
    = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

expected<nlohmann::json> parse_json_object(const request& req) {
  auto type = req.header("content-type").value_or("");
  auto semi = type.find(';');
  auto media = type.substr(0, semi);
  while (!media.empty() && media.back() == ' ')
    media.remove_suffix(1);
  if (media != "application/json")
    return error{errc::unsupported_media,
                 "send the body as JSON with Content-Type: application/json"};
  auto doc = nlohmann::json::parse(req.body, nullptr, false);
  if (doc.is_discarded()) {
    // Parse again with exceptions only to learn where it broke.
    try {
      auto again = nlohmann::json::parse(req.body);
      (void)again;
    } catch (const nlohmann::json::parse_error& e) {
      return error{
        errc::malformed_request,
        fmt::format("the body is not valid JSON (at byte {})", e.byte)};
    }
    return error{errc::malformed_request, "the body is not valid JSON"};
  }
  if (!doc.is_object())
    return error{errc::malformed_request,
                 "the body must be a JSON object ({...})"};
  return doc;
}

status only_fields(const nlohmann::json& body,
                   std::initializer_list<std::string_view> allowed) {
  for (auto& [key, value] : body.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return error{errc::invalid_field, fmt::format("unknown field '{}'", key),
                   key};
  return {};
}

expected<std::string> string_field(const nlohmann::json& body,
                                   const std::string& name,
                                   std::optional<std::string> fallback,
                                   size_t max_length) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (fallback)
      return *fallback;
    return error{errc::invalid_field, fmt::format("{} is required", name),
                 name};
  }
  if (!it->is_string())
    return error{errc::invalid_field, fmt::format("{} must be a string", name),
                 name};
  auto value = it->get<std::string>();
  if (value.size() > max_length)
    return error{errc::invalid_field,
                 fmt::format("{} is longer than {} bytes", name, max_length),
                 name};
  return value;
}

std::optional<nlohmann::json>
json_body(const request& req, const reply_fn& reply,
          std::initializer_list<std::string_view> fields) {
  auto body = parse_json_object(req);
  if (!body) {
    reply(problem(body.err(), req.request_id));
    return std::nullopt;
  }
  if (auto err = only_fields(*body, fields)) {
    reply(problem(err, req.request_id));
    return std::nullopt;
  }
  return std::move(*body);
}

} // namespace souk::http
