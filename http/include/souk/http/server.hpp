#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/core/net.hpp"
#include "souk/http/router.hpp"

namespace souk::http {

/// How the server treats connections. Defaults match `config::http_settings`.
struct server_options {
  std::string listen = "127.0.0.1:8080";
  uint64_t body_limit = 1 << 20;
  uint64_t header_limit = 16 << 10;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds read_timeout{60'000};
  std::chrono::milliseconds write_timeout{60'000};
  std::chrono::milliseconds idle_timeout{75'000};
  uint32_t max_requests_per_connection = 1000;
  uint32_t threads = 2;
  bool access_log = true;
  /// Reverse proxies whose `X-Forwarded-For` names the client
  /// (`souk::client_address`): `request::remote` is then the client's
  /// address, for rate limits, sessions and logs. Empty: the TCP peer.
  ip_networks trusted_proxies;
  /// Read the client from RFC 7239 `Forwarded` (its `for=`) instead of
  /// `X-Forwarded-For`.
  bool forwarded_rfc7239 = false;
  /// Web origins whose pages may call routes under `cors_prefix` from a
  /// browser (CORS: preflights answered, `Access-Control-Allow-Origin`
  /// sent; never credentials). Empty: no CORS headers at all.
  web_origins cors_origins;
  std::string cors_prefix = "/api/";
  /// Paths under `cors_prefix` no page calls: the gateways' webhooks.
  std::vector<std::string> cors_excluded{"/api/v1/webhooks/"};
  /// `Access-Control-Max-Age` of a preflight's answer.
  std::chrono::seconds cors_max_age{600};
  /// Called once per response (on an event-loop thread; must not block)
  /// with the method, the matched route's pattern ("unmatched" if none),
  /// the status, the seconds since the request's header arrived, and
  /// whether the answer was held by a long poll (it says
  /// `Preference-Applied: wait=N`): its seconds are the wait, not work.
  std::function<void(std::string_view method, std::string_view route,
                     int status, double seconds, bool held)>
    on_response;
};

/// An HTTP/1.1 server (Boost.Beast) dispatching to a `router`.
///
/// Each connection serves one request at a time: the next request is read
/// only after the previous response was written, so pipelined requests wait
/// in the socket and never pile up in memory. Every request gets a request id
/// (a valid incoming `X-Request-Id` is kept) that appears in each log line and
/// in the response.
///
/// Thread-safety: `start`, `shutdown` and `wait` are called by one owning
/// thread; `draining` and `port` from anywhere.
class server {
public:
  /// REQUIRES: `routes` outlives the server and is not modified after
  /// `start`. Whatever replies to requests from other threads (database
  /// threads, actors) must be stopped before the server is destroyed.
  server(server_options opts, const router& routes);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds the listening socket and starts the event-loop threads. Fails
  /// with `errc::unavailable` if the address cannot be bound.
  status start();

  /// The bound port (useful with port 0).
  uint16_t port() const noexcept;

  /// Stops accepting, closes idle connections, lets in-flight requests finish
  /// for up to `grace`, then closes whatever is left and stops the threads.
  /// Blocks until done. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  /// True once `shutdown` has begun (readiness probes report not ready).
  bool draining() const noexcept;

  /// Connections currently open.
  size_t connections() const noexcept;

private:
  friend class session;
  struct impl;
  std::shared_ptr<impl> impl_;
};

} // namespace souk::http
