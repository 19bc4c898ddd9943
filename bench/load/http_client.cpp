#include "http_client.hpp"

#include <curl/curl.h>

namespace souk::load {

namespace {

size_t append(char* data, size_t size, size_t n, void* to) {
  static_cast<std::string*>(to)->append(data, size * n);
  return size * n;
}

} // namespace

http_client::http_client() : handle_(curl_easy_init()) {}

http_client::~http_client() {
  curl_easy_cleanup(static_cast<CURL*>(handle_));
}

reply http_client::request(const std::string& method, const std::string& url,
                           const std::string& body,
                           const std::vector<std::string>& headers,
                           std::chrono::milliseconds timeout) {
  auto* h = static_cast<CURL*>(handle_);
  // reset() keeps the connection cache: the next request reuses the socket.
  curl_easy_reset(h);
  reply out;
  curl_slist* list = nullptr;
  for (auto& line : headers)
    list = curl_slist_append(list, line.c_str());
  // No "Expect: 100-continue" round trip on bodies.
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2'000L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body);
  if (method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.size()));
  }
  auto rc = curl_easy_perform(h);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
    curl_header* etag = nullptr;
    if (curl_easy_header(h, "ETag", 0, CURLH_HEADER, -1, &etag) == CURLHE_OK)
      out.etag = etag->value;
  } else
    out.error = curl_easy_strerror(rc);
  curl_slist_free_all(list);
  return out;
}

} // namespace souk::load
