#pragma once

// A blocking HTTP client for the load generator: one per thread, keeping
// its connections alive between requests (libcurl's connection cache).

#include <chrono>
#include <string>
#include <vector>

namespace souk::load {

struct reply {
  long status = 0; ///< 0 when no answer came
  std::string body;
  std::string error; ///< libcurl's reason when no answer came
  std::string etag;  ///< the ETag header, if any
  bool answered() const { return status != 0; }
};

class http_client {
public:
  http_client();
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Never follows redirects; `headers` are whole lines ("Name: value").
  reply request(const std::string& method, const std::string& url,
                const std::string& body = {},
                const std::vector<std::string>& headers = {},
                std::chrono::milliseconds timeout
                = std::chrono::milliseconds{15'000});

private:
  void* handle_;
};

} // namespace souk::load
