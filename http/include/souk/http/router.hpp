#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "souk/http/message.hpp"

namespace souk::http {

/// Maps (method, path) to handlers. Patterns are literal segments and
/// `{name}` segments, e.g. "/api/v1/products/{id}/files"; a `{name}` matches
/// one non-empty segment, decoded, and lands in `request::params`.
///
/// Routes are added at start-up, before the server runs; after that the
/// router is only read, from any number of threads.
class router {
public:
  /// A registered route, for listings and the OpenAPI consistency test.
  struct route_info {
    std::string method;
    std::string pattern;
  };

  /// Registers `h` for `method` and `pattern`. REQUIRES: no route with the
  /// same method and pattern exists; `pattern` starts with '/'.
  void add(std::string method, std::string pattern, handler h);

  /// Registers a streaming route: its body is not buffered but pulled by `h`
  /// through a `body_reader`, up to `body_limit` bytes (instead of the
  /// server's `body_limit`).
  void add_stream(std::string method, std::string pattern, stream_handler h,
                  uint64_t body_limit);

  /// What `match` found.
  struct match_result {
    const handler* target = nullptr; ///< null: see `stream_target`
    /// A streaming route, and its body limit.
    const stream_handler* stream_target = nullptr;
    uint64_t stream_limit = 0;
    /// The matched route's pattern (for metrics and logs); null if none.
    const std::string* pattern = nullptr;
    std::map<std::string, std::string> params;
    /// Methods the path does accept when neither target is set (empty: no
    /// such path at all, a 404; else a 405 with this `Allow` list).
    std::vector<std::string> allowed;
  };

  /// Finds the route for `method` and a raw (still percent-encoded) `path`;
  /// each segment is decoded after splitting, so "%2F" never splits one.
  /// HEAD falls back to GET.
  match_result match(std::string_view method, std::string_view path) const;

  /// Every route, in registration order.
  std::vector<route_info> routes() const;

private:
  struct entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    handler h;
    stream_handler sh;
    uint64_t stream_limit = 0;
  };
  std::vector<entry> entries_;
};

} // namespace souk::http
