#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "souk/http/message.hpp"

namespace souk::http {
class router;
} // namespace souk::http

namespace souk::pages {

/// One call to the JSON API.
struct api_request {
  std::string method = "GET";
  /// Path and query, e.g. "/api/v1/products?q=book" (already encoded).
  std::string target;
  /// Sent as the JSON body unless null.
  nlohmann::json body;
  /// Extra headers (names in any case), e.g. Idempotency-Key, If-Match.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Leave the visitor's cookies out: the call is made as a guest.
  bool as_guest = false;
};

/// What the API answered.
struct api_reply {
  unsigned status = 0;
  nlohmann::json body; ///< parsed JSON, or null
  std::vector<std::pair<std::string, std::string>> headers;

  bool ok() const { return status >= 200 && status < 300; }
  /// The first header `name` (lowercase), or "".
  std::string header(std::string_view name) const;
  /// A problem document's detail (or title), for people.
  std::string detail() const;
  /// A problem document's field (the form field to mark), or "".
  std::string field() const;
  /// A problem document's code, or "".
  std::string code() const;
};

using api_done = std::function<void(api_reply)>;
using api_all_done = std::function<void(std::vector<api_reply>)>;

/// Calls the JSON API's routes in-process: the same router, access guard,
/// handler and validation a client reaches over HTTP, with the visitor's
/// cookie, address and user agent, so a page can never do what its visitor
/// could not do through the API. Thread-safe.
class api {
public:
  /// REQUIRES: `r` outlives this object and is no longer changed.
  explicit api(const http::router& r) : router_(&r) {}

  /// Calls one route; `done` runs once, on whatever thread the handler
  /// answers from (possibly before `call` returns). REQUIRES: `outer`
  /// stays valid until `done` ran (it is the page's own request).
  void call(const http::request& outer, api_request in, api_done done) const;

  /// Calls every route at once; `done` gets the replies in order.
  void all(const http::request& outer, std::vector<api_request> in,
           api_all_done done) const;

private:
  const http::router* router_;
};

} // namespace souk::pages
