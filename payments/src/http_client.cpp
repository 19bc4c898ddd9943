#include "souk/payments/http_client.hpp"

#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

namespace souk::payments {

namespace {

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Gateway answers are small; a runaway body is cut off rather than held.
constexpr size_t max_body = 8 << 20;

size_t on_body_bounded(char* data, size_t size, size_t count, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * count > max_body)
    return 0; // makes curl fail the transfer
  return on_body(data, size, count, user);
}

using curl_handle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

// This thread's handle: reset between calls, it keeps its connections (and
// TLS sessions) open, so a worker's next call to the gateway reuses one
// instead of connecting, and handshaking, again. libcurl checks that a kept
// connection is still alive before reusing it and connects anew if not.
CURL* thread_handle() {
  thread_local curl_handle h{nullptr, &curl_easy_cleanup};
  if (h)
    curl_easy_reset(h.get());
  else
    h.reset(curl_easy_init());
  return h.get();
}

} // namespace

expected<http_answer> send(const http_call& call) {
  init_curl();
  CURL* h = thread_handle(); // the thread's: it outlives the call
  if (h == nullptr)
    return error{errc::internal, "curl_easy_init failed"};
  http_answer out;
  curl_slist* list = nullptr;
  for (auto& [name, value] : call.headers)
    list = curl_slist_append(list, (name + ": " + value).c_str());
  // curl adds "Expect: 100-continue" to larger POSTs; gateways do not need it.
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers{
    list, &curl_slist_free_all};
  char why[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(h, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  if (!call.body.empty() || call.method == "POST" || call.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(call.body.size()));
  }
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(call.timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_bounded);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, why);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  // A connection idle for longer is not reused: well within the usual
  // server keep-alive timeouts (60-75 s), so a server never closes one just
  // as a request goes out on it.
  curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, 30L);
  auto rc = curl_easy_perform(h);
  // The handle outlives this frame: it must not keep pointers into it.
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  if (rc != CURLE_OK) {
    auto text = fmt::format("{} {}: {}", call.method, call.url,
                            why[0] ? why : curl_easy_strerror(rc));
    // Failing before the request left (no connection): it surely did not
    // arrive. Anything later (a timeout, a reset): it may have.
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return error{errc::unavailable, std::move(text)};
    default:
      return error{errc::timeout, std::move(text)};
    }
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
  char* type = nullptr;
  curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
  if (type)
    out.content_type = type;
  long connects = 0;
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
  out.connected = connects > 0;
  return out;
}

} // namespace souk::payments
