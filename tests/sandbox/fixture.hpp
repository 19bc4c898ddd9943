#pragma once

// An in-process sandbox gateway on a real HTTP server (port 0), with a real
// webhook receiver next to it. Timings are compressed (retries 100 ms apart,
// refunds and transfers finish after 50 ms) so the suites stay fast; every
// wait is a deadline loop on a condition, never a bare sleep.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "souk/core/hash.hpp"
#include "souk/core/time.hpp"
#include "souk/http/json.hpp"
#include "souk/http/router.hpp"
#include "souk/http/server.hpp"
#include "souk/sandbox/gateway.hpp"
#include "souk/testing/support.hpp"

namespace souk::testing {

using namespace std::chrono_literals;
using nlohmann::json;
namespace sandbox = souk::sandbox;

constexpr const char* secret = "sk_test_sandbox_suite";

/// One webhook as the receiver got it.
struct webhook {
  std::string body;
  std::string signature;
  std::string content_type;
  json doc;
  std::string event() const { return doc.value("event", ""); }
  const json& data() const { return doc.at("data"); }
};

/// A webhook endpoint: records every POST to /hooks; answers 200, or 500
/// while failures are asked for.
class receiver {
public:
  receiver() {
    routes_.add("POST", "/hooks",
                [this](const http::request& req, http::reply_fn reply) {
                  webhook w;
                  w.body = req.body;
                  w.signature = req.header("x-paystack-signature").value_or("");
                  w.content_type = req.header("content-type").value_or("");
                  w.doc = json::parse(req.body, nullptr, false);
                  bool fail = false;
                  {
                    std::lock_guard guard{mtx_};
                    got_.push_back(std::move(w));
                    if (failures_ > 0) {
                      --failures_;
                      fail = true;
                    }
                  }
                  http::response res;
                  res.status = fail ? 500 : 200;
                  res.content_type = "text/plain";
                  reply(std::move(res));
                });
    http::server_options opts;
    opts.listen = "127.0.0.1:0";
    opts.access_log = false;
    server_ = std::make_unique<http::server>(opts, routes_);
    auto err = server_->start();
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
  }
  ~receiver() { server_->shutdown(1s); }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/hooks";
  }

  /// The next `n` requests answer 500 (a negative `n`: all of them).
  void fail_next(int n) {
    std::lock_guard guard{mtx_};
    failures_ = n < 0 ? 1'000'000 : n;
  }

  std::vector<webhook> received() const {
    std::lock_guard guard{mtx_};
    return got_;
  }

  /// Waits until at least `n` requests came in; fails the test otherwise.
  std::vector<webhook> wait_for(size_t n,
                                std::chrono::milliseconds deadline = 5s) {
    auto ok = eventually([&] { return received().size() >= n; }, deadline);
    BOOST_REQUIRE_MESSAGE(ok, "expected " << n << " webhooks, got "
                                          << received().size());
    return received();
  }

private:
  mutable std::mutex mtx_;
  std::vector<webhook> got_;
  int failures_ = 0;
  http::router routes_;
  std::unique_ptr<http::server> server_;
};

inline sandbox::options test_options() {
  sandbox::options o;
  o.secret_key = secret;
  o.retry_first = 100ms;
  o.retry_later = 200ms;
  o.retry_for = 5s;
  o.webhook_timeout = 2s;
  o.refund_delay = 50ms;
  o.transfer_delay = 50ms;
  return o;
}

/// The gateway on a server of its own, its webhooks going to `hooks`.
struct sandbox_app {
  receiver hooks;
  std::unique_ptr<sandbox::gateway> gw;
  http::router routes;
  std::unique_ptr<http::server> server;
  uint16_t port = 0;

  explicit sandbox_app(sandbox::options o = test_options(),
                       bool with_webhooks = true) {
    if (with_webhooks)
      o.webhook_url = hooks.url();
    gw = std::make_unique<sandbox::gateway>(o);
    gw->add_routes(routes, "");
    http::server_options opts;
    opts.listen = "127.0.0.1:0";
    opts.access_log = false;
    server = std::make_unique<http::server>(opts, routes);
    auto err = server->start();
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
    port = server->port();
    gw->set_public_url(base_url());
  }

  ~sandbox_app() {
    server->shutdown(2s);
    gw->stop();
  }

  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(port);
  }

  /// An API call with the secret key (or `key`, if given; "" sends none).
  http_reply call(const std::string& method, const std::string& target,
                  const std::string& body = {},
                  std::optional<std::string> key = secret) const {
    std::vector<std::pair<std::string, std::string>> headers;
    if (key && !key->empty())
      headers.emplace_back("Authorization", "Bearer " + *key);
    if (!body.empty())
      headers.emplace_back("Content-Type", "application/json");
    return http_request(port, method, target, body, headers);
  }

  /// `call` with a JSON body; the answer parsed (null if not JSON).
  json call_json(const std::string& method, const std::string& target,
                 const json& body, unsigned expected_status) const {
    auto res = call(method, target, body.is_null() ? "" : body.dump());
    BOOST_TEST_CONTEXT(method << " " << target << " -> " << res.body) {
      BOOST_TEST(res.status == expected_status);
      BOOST_TEST(res.header("content-type").value_or("") == "application/json");
    }
    return json::parse(res.body, nullptr, false);
  }

  /// A new transaction; returns initialize's `data`.
  json initialize(json fields = json::object()) const {
    json body{{"email", "buyer@example.com"}, {"amount", 500000}};
    for (auto& [k, v] : fields.items())
      body[k] = v;
    auto res = call_json("POST", "/transaction/initialize", body, 200);
    BOOST_REQUIRE(res.value("status", false));
    return res.at("data");
  }

  /// A new, paid transaction; returns its reference.
  std::string paid(json fields = json::object()) const {
    auto ref = initialize(std::move(fields)).at("reference").get<std::string>();
    BOOST_REQUIRE(!gw->pay(ref));
    return ref;
  }

  json verify(const std::string& reference,
              unsigned expected_status = 200) const {
    return call_json("GET", "/transaction/verify/" + reference, nullptr,
                     expected_status);
  }

  /// Waits until the gateway has delivered `n` webhook copies (2xx) in all.
  void wait_delivered(uint64_t n) const {
    auto ok = eventually([&] { return gw->stats().webhooks_delivered >= n; });
    BOOST_REQUIRE_MESSAGE(ok, "expected " << n << " deliveries, got "
                                          << gw->stats().webhooks_delivered);
  }
};

/// The received webhooks whose event is `event`.
inline std::vector<webhook> of_event(const std::vector<webhook>& all,
                                     const std::string& event) {
  std::vector<webhook> out;
  for (auto& w : all)
    if (w.event() == event)
      out.push_back(w);
  return out;
}

} // namespace souk::testing
