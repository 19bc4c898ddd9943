#include "souk/http/json.hpp"

#include <fmt/format.h>

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

} // namespace souk::http
