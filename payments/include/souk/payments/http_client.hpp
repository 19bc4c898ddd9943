#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "souk/core/error.hpp"

namespace souk::payments {

/// One outgoing HTTP(S) request.
struct http_call {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The whole exchange, connecting included.
  std::chrono::milliseconds timeout{15'000};
};

/// Whatever the server answered (any status).
struct http_answer {
  long status = 0;
  std::string body;
  std::string content_type;
  /// Whether this call opened a connection (false: it reused a kept one).
  bool connected = false;
};

/// Sends `call` with libcurl and waits for the answer. Blocking: call it on a
/// worker thread, never on an event loop or a CAF scheduler thread.
/// Errors: `errc::unavailable` when the request cannot have arrived (no
/// connection: refused, DNS, TLS handshake), `errc::timeout` when it may
/// have but no answer came (the deadline passed, the connection broke).
/// Thread-safe. Each thread keeps its connections open for its next calls
/// (HTTP keep-alive; libcurl's connection cache, checked before reuse).
expected<http_answer> send(const http_call& call);

} // namespace souk::payments
