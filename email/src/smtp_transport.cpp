// SMTP with libcurl: one connection per message (souk sends receipts, not
// newsletters), STARTTLS and AUTH as configured.

#include <algorithm>
#include <cstring>

#include <curl/curl.h>
#include <fmt/format.h>

#include "souk/email/transport.hpp"

namespace souk::email {

namespace {

struct reading {
  std::string_view left;
};

size_t read_body(char* buf, size_t size, size_t n, void* user) {
  auto* r = static_cast<reading*>(user);
  auto count = std::min(size * n, r->left.size());
  std::memcpy(buf, r->left.data(), count);
  r->left.remove_prefix(count);
  return count;
}

// Credentials never reach logs.
std::string without_userinfo(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos)
    return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

class smtp_transport : public transport {
public:
  explicit smtp_transport(smtp_options o) : opts_(std::move(o)) {}

  status send(const outgoing& m) override {
    CURL* curl = curl_easy_init();
    if (curl == nullptr)
      return error{errc::internal, "curl_easy_init failed"};
    char errbuf[CURL_ERROR_SIZE] = {};
    reading body{m.bytes};
    auto from = "<" + m.from + ">";
    auto to = "<" + m.to + ">";
    curl_slist* rcpt = curl_slist_append(nullptr, to.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, opts_.url.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(curl, CURLOPT_READDATA, &body);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(m.bytes.size()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(opts_.timeout.count()));
    curl_easy_setopt(
      curl, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::min<long long>(opts_.timeout.count(), 10'000)));
    if (!opts_.username.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, opts_.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, opts_.password.c_str());
    }
    if (opts_.url.starts_with("smtp://")) {
      long level = opts_.tls == "off"             ? CURLUSESSL_NONE
                   : opts_.tls == "opportunistic" ? CURLUSESSL_TRY
                                                  : CURLUSESSL_ALL;
      curl_easy_setopt(curl, CURLOPT_USE_SSL, level);
    }
    if (!opts_.verify_peer) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    auto rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(curl);
    if (rc == CURLE_OK)
      return {};
    auto detail = fmt::format("SMTP {}: {}{}", describe(),
                              errbuf[0] ? errbuf : curl_easy_strerror(rc),
                              code ? fmt::format(" (reply {})", code) : "");
    // A 5xx reply to this message (no such mailbox, rejected) will not
    // change by retrying; authentication and TLS trouble are the
    // operator's to fix, and the message waits for them.
    if (code >= 500 && code != 530 && code != 535 && code != 534
        && rc != CURLE_LOGIN_DENIED && rc != CURLE_USE_SSL_FAILED)
      return error{errc::invalid_field, detail};
    if (rc == CURLE_OPERATION_TIMEDOUT)
      return error{errc::timeout, detail};
    return error{errc::unavailable, detail};
  }

  std::string describe() const override { return without_userinfo(opts_.url); }

private:
  smtp_options opts_;
};

} // namespace

std::unique_ptr<transport> make_smtp_transport(smtp_options opts) {
  return std::make_unique<smtp_transport>(std::move(opts));
}

} // namespace souk::email
