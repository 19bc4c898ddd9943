#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/core/log.hpp"
#include "souk/core/text.hpp"

namespace souk::http {

/// A request as handlers see it: already parsed, body fully read (up to the
/// configured limit), path split from query. Owned by the connection; stays
/// valid until the handler calls its `reply`.
struct request {
  std::string method; ///< "GET", "POST", ...
  std::string target; ///< as sent: path plus query
  std::string path;   ///< percent-decoded path, without the query
  std::vector<std::pair<std::string, std::string>> query;   ///< decoded
  std::vector<std::pair<std::string, std::string>> headers; ///< names lowercase
  std::map<std::string, std::string> params; ///< `{name}` segments of the route
  std::string body;
  std::string remote;     ///< client address
  std::string request_id; ///< also sent back as `X-Request-Id`
  log::logger log;        ///< carries request_id; use it in handlers

  /// The first header named `name` (lowercase), if present.
  std::optional<std::string_view> header(std::string_view name) const;

  /// The first query parameter named `name`, if present.
  std::optional<std::string_view> query_param(std::string_view name) const;

  /// The route parameter `name`. REQUIRES: the route declares `{name}`.
  const std::string& param(const std::string& name) const {
    return params.at(name);
  }
};

/// A response body produced piece by piece (a file download), so that it
/// is never held in memory whole. The server calls `read` on the
/// connection's event-loop thread, one call at a time, only while the
/// client keeps up: keep each call short (a local file read).
class body_source {
public:
  virtual ~body_source() = default;

  /// Copies the next bytes into `buf` (at most `size`) and returns how
  /// many. Returning 0 before `response::stream_size` bytes were given, or
  /// setting `err`, aborts the response (the connection is closed).
  virtual size_t read(char* buf, size_t size, error& err) = 0;
};

/// A response: status, headers and a body held in memory (`body`) or
/// pulled from `stream`.
struct response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Close the connection after sending (set by the server on errors that
  /// leave the stream unusable).
  bool close = false;
  /// When set, the body comes from here instead of `body`: exactly
  /// `stream_size` bytes (the `Content-Length`). HEAD requests never read
  /// it.
  std::shared_ptr<body_source> stream;
  uint64_t stream_size = 0;

  response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

/// 204 No Content: no body, no Content-Type.
inline response no_content() {
  response res;
  res.status = 204;
  res.content_type.clear();
  return res;
}

/// Sends the response for one request. Call exactly once, from any thread;
/// later calls are ignored (and logged).
using reply_fn = std::function<void(response)>;

/// Serves one route. Runs on an HTTP event-loop thread: it must not block
/// (no database, SMTP or gateway calls) — post blocking work to the database
/// threads or send a message to an actor, and call `reply` from there.
using handler = std::function<void(const request&, reply_fn)>;

/// The body of a streamed request (see `router::add_stream`), pulled chunk
/// by chunk so that it is never held in memory. Thread-safe to call from any
/// thread; callbacks run on the connection's event-loop thread and must not
/// block (post file or database work elsewhere, then call `read` again).
class body_reader {
public:
  using chunk_fn
    = std::function<void(const error& err, std::string_view chunk, bool done)>;

  virtual ~body_reader() = default;

  /// Reads the next chunk (at most 64 KiB) and calls `fn` with it; `done` is
  /// true once the body is complete (the last chunk may be empty). The chunk
  /// stays valid until the next `read`. Errors: `errc::payload_too_large`
  /// past the route's limit, `errc::request_timeout` if the client stalls,
  /// `errc::malformed_request`, or `errc::unavailable` if it went away. Call
  /// `read` again only after `fn` ran.
  virtual void read(chunk_fn fn) = 0;
};

/// Serves a streaming route: called once the header is in (nothing of the
/// body has been read, not even `100 Continue` sent), so it can refuse a
/// request before accepting its bytes.
using stream_handler = std::function<void(
  const request&, std::shared_ptr<body_reader> body, reply_fn)>;

/// Percent-decodes `text` ('+' stays '+'; in queries use `decode_query`).
/// Returns nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

/// Splits and decodes `a=1&b=two+words`; nullopt on a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>>
decode_query(std::string_view query);

/// `s` without the spaces and tabs around it (souk/core/text.hpp).
using souk::trim_ows;

/// ASCII case-insensitive equality, for tokens in header values.
bool iequals(std::string_view a, std::string_view b);

/// A run of decimal digits and nothing else; nullopt if empty, anything
/// else, or beyond 64 bits.
std::optional<uint64_t> parse_digits(std::string_view s);

} // namespace souk::http
