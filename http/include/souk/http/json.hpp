#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "souk/core/error.hpp"
#include "souk/http/message.hpp"

/// JSON in and out of handlers. Include only in handler sources: nlohmann's
/// header is large.
namespace souk::http {

/// A response with `body` serialised as JSON.
response json_response(unsigned status, const nlohmann::json& body);

/// The request body parsed as a JSON object. Fails with
/// `errc::unsupported_media` unless Content-Type is application/json, and with
/// `errc::malformed_request` (naming the byte offset) on invalid JSON or a
/// top-level value that is not an object.
expected<nlohmann::json> parse_json_object(const request& req);

/// Refuses a member of `body` that is not in `allowed`, naming it: a typo in
/// a field name must not be silently ignored.
status only_fields(const nlohmann::json& body,
                   std::initializer_list<std::string_view> allowed);

/// The string member `name` of `body`, at most `max_length` bytes. Missing
/// or null: `fallback` if given, else an `errc::invalid_field` error naming
/// the field; not a string: an error naming it.
expected<std::string> string_field(const nlohmann::json& body,
                                   const std::string& name,
                                   std::optional<std::string> fallback = {},
                                   size_t max_length = 1024);

/// The body as a JSON object with only `fields` as members, or nullopt after
/// replying with the problem document (415, 400 or 422 naming the field).
/// The usual first line of a JSON handler.
std::optional<nlohmann::json>
json_body(const request& req, const reply_fn& reply,
          std::initializer_list<std::string_view> fields);

} // namespace souk::http
