#pragma once

#include <string>

#include "souk/core/error.hpp"
#include "souk/http/message.hpp"

namespace souk::http {

/// The HTTP status for `code`. The one place that maps souk's errors to
/// statuses.
unsigned status_of(errc code) noexcept;

/// An `application/problem+json` response for `err`:
/// `{"type","title","status","code","detail"[,"field"][,"request_id"]}`.
/// Details of 5xx errors are replaced by a generic text (the caller logs the
/// real one), so internals never leak to clients.
response problem(const error& err, const std::string& request_id = {});

/// Shorthand for `problem(error{code, detail}, request_id)`.
response problem(errc code, std::string detail,
                 const std::string& request_id = {});

} // namespace souk::http
