#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "souk/http/message.hpp"

namespace souk::accounts {
struct principal;
} // namespace souk::accounts

namespace souk::http {

struct services;
class rate_limiter;

/// Who may call a route, declared where the route is registered.
struct access {
  /// Callers without credentials get through (with no principal).
  bool anonymous = false;
  /// Roles allowed; empty means any signed-in role.
  std::vector<std::string> roles;

  static access anyone() { return {true, {}}; }
  static access signed_in() { return {false, {}}; }
  static access only(std::initializer_list<std::string> roles) {
    return {false, roles};
  }
};

/// A handler that learns who calls: `who` is null only on routes open to
/// anonymous callers. Same threading rules as `handler`.
using secured_handler = std::function<void(
  const request&, const accounts::principal* who, reply_fn)>;

/// Wraps `h` with souk's access control, the one place it happens:
///  1. `limiter` (if any) refuses a client address over its rate, and after
///     step 2 an account over its rate: 429 with Retry-After.
///  2. Credentials come from `Authorization: Bearer` (a session token or an
///     API key) or the `souk_session` cookie. Invalid ones are 401 on
///     protected routes and ignored on open ones.
///  3. The principal's role must be in `who.roles`: else 403.
///  4. Writes authenticated by the cookie must carry `X-CSRF-Token`: else 403.
/// Ownership of the resource a route touches is checked by the handler (a
/// resource the caller may not see is 404, never 403).
handler guard(std::shared_ptr<const services> svc, access who,
              secured_handler h, std::shared_ptr<rate_limiter> limiter = {});

/// A streaming handler that learns who calls (see `secured_handler`).
using secured_stream_handler
  = std::function<void(const request&, const accounts::principal* who,
                       std::shared_ptr<body_reader> body, reply_fn)>;

/// `guard` for streaming routes: access is checked before a single byte of
/// the body is read (or `100 Continue` sent).
stream_handler guard_stream(std::shared_ptr<const services> svc, access who,
                            secured_stream_handler h,
                            std::shared_ptr<rate_limiter> limiter = {});

/// The value of cookie `name` in `req`, if sent.
std::optional<std::string> cookie(const request& req, std::string_view name);

/// The name of the session cookie and of the readable CSRF cookie.
inline constexpr std::string_view session_cookie = "souk_session";
inline constexpr std::string_view csrf_cookie = "souk_csrf";

} // namespace souk::http
