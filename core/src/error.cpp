#include "souk/core/error.hpp"

#include <ostream>

namespace souk {

std::string_view to_string(errc x) noexcept {
  switch (x) {
  case errc::ok:
    return "ok";
  case errc::invalid_field:
    return "invalid_field";
  case errc::malformed_request:
    return "malformed_request";
  case errc::unauthorized:
    return "unauthorized";
  case errc::forbidden:
    return "forbidden";
  case errc::not_found:
    return "not_found";
  case errc::method_not_allowed:
    return "method_not_allowed";
  case errc::conflict:
    return "conflict";
  case errc::idempotency_mismatch:
    return "idempotency_mismatch";
  case errc::payload_too_large:
    return "payload_too_large";
  case errc::unsupported_media:
    return "unsupported_media_type";
  case errc::rate_limited:
    return "rate_limited";
  case errc::unavailable:
    return "unavailable";
  case errc::timeout:
    return "timeout";
  case errc::config:
    return "invalid_config";
  case errc::database:
    return "database_error";
  case errc::internal:
    return "internal_error";
  case errc::header_too_large:
    return "header_too_large";
  case errc::request_timeout:
    return "request_timeout";
  case errc::precondition_required:
    return "precondition_required";
  case errc::precondition_failed:
    return "precondition_failed";
  case errc::payment_refused:
    return "payment_refused";
  case errc::insufficient_funds:
    return "insufficient_funds";
  case errc::payout_account_missing:
    return "payout_account_missing";
  case errc::link_expired:
    return "link_expired";
  case errc::link_used_up:
    return "link_used_up";
  case errc::link_revoked:
    return "link_revoked";
  case errc::link_replaced:
    return "link_replaced";
  case errc::sold_out:
    return "sold_out";
  }
  return "internal_error";
}

std::ostream& operator<<(std::ostream& out, errc x) {
  return out << to_string(x);
}

} // namespace souk
