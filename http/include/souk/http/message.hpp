#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "souk/core/log.hpp"

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

/// A response: status, headers and a body held in memory.
struct response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Close the connection after sending (set by the server on errors that
  /// leave the stream unusable).
  bool close = false;

  response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

/// Sends the response for one request. Call exactly once, from any thread;
/// later calls are ignored (and logged).
using reply_fn = std::function<void(response)>;

/// Serves one route. Runs on an HTTP event-loop thread: it must not block
/// (no database, SMTP or gateway calls) — post blocking work to the database
/// threads or send a message to an actor, and call `reply` from there.
using handler = std::function<void(const request&, reply_fn)>;

/// Percent-decodes `text` ('+' stays '+'; in queries use `decode_query`).
/// Returns nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

/// Splits and decodes `a=1&b=two+words`; nullopt on a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>>
decode_query(std::string_view query);

} // namespace souk::http
