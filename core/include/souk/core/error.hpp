#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace souk {

/// The closed set of failure kinds souk reports. Each has one stable wire
/// code (see `to_string`) and one HTTP status, mapped in `http/problem.cpp`.
/// Append new values at the end: the numeric values travel in CAF messages.
enum class errc : uint8_t {
  ok = 0,
  invalid_field,          ///< a request or config value failed validation
  malformed_request,      ///< bytes that are not the request they claim to be
  unauthorized,           ///< no valid credentials
  forbidden,              ///< credentials, but not allowed
  not_found,              ///< no such resource (or not visible to the caller)
  method_not_allowed,     ///< the path exists, the method does not
  conflict,               ///< state or version conflict
  idempotency_mismatch,   ///< same Idempotency-Key, different request
  payload_too_large,      ///< body over the configured limit
  unsupported_media,      ///< wrong Content-Type
  rate_limited,           ///< too many requests
  unavailable,            ///< a dependency (DB, gateway) is down or not ready
  timeout,                ///< a dependency did not answer in time
  config,                 ///< bad configuration
  database,               ///< a database call failed
  internal,               ///< a bug: something that should not happen did
  header_too_large,       ///< request header block over the configured limit
  request_timeout,        ///< the client was too slow sending its request
  precondition_required,  ///< a conditional write came without If-Match
  precondition_failed,    ///< If-Match names a version that is not current
  payment_refused,        ///< the payment gateway refused the request
  insufficient_funds,     ///< the balance does not cover the amount
  payout_account_missing, ///< a payout needs a payout account first
  link_expired,           ///< a download link past its expiry
  link_used_up,           ///< a download link with no downloads left
  link_revoked,           ///< a download link whose access was taken back
  link_replaced,          ///< a download link superseded by a newer one
  sold_out,               ///< nothing left to sell (e.g. licence keys)
};

/// The last code, for loops over all of them.
inline constexpr errc last_errc = errc::sold_out;

/// The stable, snake_case code of `x`, e.g. "invalid_field".
std::string_view to_string(errc x) noexcept;

/// Writes `to_string(x)` (for test output and logs).
std::ostream& operator<<(std::ostream& out, errc x);

/// A failure: a kind plus a human-readable detail. Cheap to move.
/// `field` names the offending input when there is one (e.g. "price.amount").
struct error {
  errc code = errc::ok;
  std::string detail;
  std::string field;
  /// For `errc::rate_limited` and `errc::unavailable`: when to try again.
  std::chrono::seconds retry_after{0};

  error() = default;
  error(errc c, std::string d, std::string f = {})
    : code(c), detail(std::move(d)), field(std::move(f)) {}

  /// True if this holds a failure.
  explicit operator bool() const noexcept { return code != errc::ok; }
};

/// Either a value or an `error`; souk's return type for fallible calls
/// outside actors (inside actors, `caf::expected` carries the same codes).
template<class T>
class expected {
public:
  expected(T value) : data_(std::move(value)) {}
  expected(error err) : data_(std::move(err)) {}

  /// True if this holds a value.
  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// REQUIRES: has_value().
  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// REQUIRES: !has_value().
  const error& err() const& { return std::get<1>(data_); }
  error&& err() && { return std::get<1>(std::move(data_)); }

private:
  std::variant<T, error> data_;
};

/// The result of a fallible call that yields nothing: an empty error on
/// success.
using status = error;

} // namespace souk
