#include "souk/http/problem.hpp"

#include <nlohmann/json.hpp>

namespace souk::http {

namespace {

struct mapping {
  unsigned status;
  const char* title;
};

mapping map(errc code) noexcept {
  switch (code) {
  case errc::ok:
    return {200, "OK"};
  case errc::invalid_field:
    return {422, "Invalid field"};
  case errc::malformed_request:
    return {400, "Malformed request"};
  case errc::unauthorized:
    return {401, "Unauthorized"};
  case errc::forbidden:
    return {403, "Forbidden"};
  case errc::not_found:
    return {404, "Not found"};
  case errc::method_not_allowed:
    return {405, "Method not allowed"};
  case errc::conflict:
    return {409, "Conflict"};
  case errc::idempotency_mismatch:
    return {422, "Idempotency key reused with a different request"};
  case errc::payload_too_large:
    return {413, "Payload too large"};
  case errc::unsupported_media:
    return {415, "Unsupported media type"};
  case errc::rate_limited:
    return {429, "Too many requests"};
  case errc::unavailable:
    return {503, "Service unavailable"};
  case errc::timeout:
    return {504, "Upstream timeout"};
  case errc::header_too_large:
    return {431, "Request header fields too large"};
  case errc::request_timeout:
    return {408, "Request timeout"};
  case errc::precondition_required:
    return {428, "Precondition required"};
  case errc::precondition_failed:
    return {412, "Precondition failed"};
  case errc::payment_refused:
    return {422, "Payment refused"};
  case errc::insufficient_funds:
    return {422, "Insufficient funds"};
  case errc::payout_account_missing:
    return {409, "No payout account"};
  case errc::link_expired:
    return {410, "Download link expired"};
  case errc::link_used_up:
    return {410, "Download link used up"};
  case errc::link_revoked:
    return {410, "Download access revoked"};
  case errc::link_replaced:
    return {410, "Download link replaced"};
  case errc::sold_out:
    return {409, "Sold out"};
  case errc::config:
  case errc::database:
  case errc::internal:
    return {500, "Internal error"};
  }
  return {500, "Internal error"};
}

} // namespace

unsigned status_of(errc code) noexcept {
  return map(code).status;
}

response problem(const error& err, const std::string& request_id) {
  auto [status, title] = map(err.code);
  nlohmann::json doc{
    {"type", "urn:souk:problem:" + std::string{to_string(err.code)}},
    {"title", title},
    {"status", status},
    {"code", to_string(err.code)},
  };
  if (status >= 500 && status != 503 && status != 504)
    doc["detail"] = "souk could not complete the request; the error has been "
                    "logged"
                    + (request_id.empty() ? std::string{}
                                          : " under request id " + request_id);
  else
    doc["detail"] = err.detail.empty() ? std::string{title} : err.detail;
  if (!err.field.empty())
    doc["field"] = err.field;
  if (!request_id.empty())
    doc["request_id"] = request_id;
  response res;
  res.status = status;
  res.content_type = "application/problem+json";
  if (err.retry_after.count() > 0)
    res.header("Retry-After", std::to_string(err.retry_after.count()));
  res.body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

response problem(errc code, std::string detail, const std::string& request_id) {
  return problem(error{code, std::move(detail)}, request_id);
}

} // namespace souk::http
