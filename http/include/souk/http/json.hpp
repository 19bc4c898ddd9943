#pragma once

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

} // namespace souk::http
