// SMTP with libcurl, STARTTLS and AUTH as configured. A connection that
// delivered a message is kept for the next one (no new connection, TLS
// handshake and AUTH per receipt); one idle for 30 s, or one that failed, is
// not.

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

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

using handle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

// One try at handing a message over.
struct attempt {
  CURLcode rc = CURLE_OK;
  long code = 0;       // the server's last reply
  bool reused = false; // made no connection (see `send`)
  std::string why;     // libcurl's words, if it failed
};

class smtp_transport : public transport {
public:
  explicit smtp_transport(smtp_options o) : opts_(std::move(o)) {}

  status send(const outgoing& m) override {
    bool kept = false;
    auto h = take(kept);
    if (!h)
      return error{errc::internal, "curl_easy_init failed"};
    auto a = hand_over(h.get(), m);
    a.reused = a.reused && kept;
    // The kept connection was gone: no reply, or 421 (the server closing
    // the channel: an idle timeout, a cap on messages per connection).
    // Once more at once on a new one. Not after a timeout (a slow server,
    // not a closed connection) nor another reply (the server answered).
    const bool gone = a.rc != CURLE_OK && a.rc != CURLE_OPERATION_TIMEDOUT
                      && (a.code == 0 || a.code == 421);
    if (a.reused && gone) {
      // At worst a message the server did take goes out twice, with the
      // same Message-ID, as after a crash.
      h.reset(curl_easy_init());
      if (!h)
        return error{errc::internal, "curl_easy_init failed"};
      a = hand_over(h.get(), m);
    }
    if (a.rc == CURLE_OK) {
      keep(std::move(h));
      return {};
    }
    // A failed conversation's connection is not reused (h closes it).
    auto detail = fmt::format("SMTP {}: {}{}", describe(), a.why,
                              a.code ? fmt::format(" (reply {})", a.code) : "");
    // A 5xx reply to this message (no such mailbox, rejected) will not
    // change by retrying; authentication and TLS trouble are the
    // operator's to fix, and the message waits for them.
    if (a.code >= 500 && a.code != 530 && a.code != 535 && a.code != 534
        && a.rc != CURLE_LOGIN_DENIED && a.rc != CURLE_USE_SSL_FAILED)
      return error{errc::invalid_field, detail};
    if (a.rc == CURLE_OPERATION_TIMEDOUT)
      return error{errc::timeout, detail};
    return error{errc::unavailable, detail};
  }

  std::string describe() const override { return without_userinfo(opts_.url); }

private:
  // A kept handle (its connection open; `kept` set), or a new one.
  handle take(bool& kept) {
    {
      std::lock_guard lock{mu_};
      if (!idle_.empty()) {
        auto h = std::move(idle_.back());
        idle_.pop_back();
        curl_easy_reset(h.get());
        kept = true;
        return h;
      }
    }
    kept = false;
    return handle{curl_easy_init(), &curl_easy_cleanup};
  }

  void keep(handle h) {
    std::lock_guard lock{mu_};
    idle_.push_back(std::move(h));
  }

  attempt hand_over(CURL* curl, const outgoing& m) {
    char errbuf[CURL_ERROR_SIZE] = {};
    reading body{m.bytes};
    auto from = "<" + m.from + ">";
    auto to = "<" + m.to + ">";
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt{
      curl_slist_append(nullptr, to.c_str()), &curl_slist_free_all};
    curl_easy_setopt(curl, CURLOPT_URL, opts_.url.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt.get());
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
    curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, 30L);
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
    attempt a;
    a.rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.code);
    long connects = 0;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
    a.reused = connects == 0;
    if (a.rc != CURLE_OK)
      a.why = errbuf[0] ? errbuf : curl_easy_strerror(a.rc);
    // The handle outlives this frame: nothing may point into it.
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(curl, CURLOPT_READDATA, nullptr);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
    return a;
  }

  smtp_options opts_;
  std::mutex mu_;
  std::vector<handle> idle_; // connections kept open for the next message
};

} // namespace

std::unique_ptr<transport> make_smtp_transport(smtp_options opts) {
  return std::make_unique<smtp_transport>(std::move(opts));
}

} // namespace souk::email
