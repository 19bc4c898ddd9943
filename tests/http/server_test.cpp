#include <future>
#include <mutex>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/http/server.hpp"
#include "souk/testing/support.hpp"

using namespace std::chrono_literals;
using souk::testing::parse_reply;
using souk::testing::raw_client;
namespace http = souk::http;

namespace {

struct fixture {
  http::router routes;
  std::unique_ptr<http::server> server;
  std::mutex workers_mx;
  std::vector<std::jthread> workers; // joined before the server goes
  uint16_t port = 0;

  fixture() {
    routes.add("GET", "/hello", [](const http::request&, http::reply_fn reply) {
      reply(http::json_response(200, {{"hello", "world"}}));
    });
    routes.add("POST", "/echo",
               [](const http::request& req, http::reply_fn reply) {
                 auto body = http::parse_json_object(req);
                 if (!body)
                   return reply(http::problem(body.err(), req.request_id));
                 reply(http::json_response(200, *body));
               });
    routes.add("GET", "/slow/{ms}",
               [this](const http::request& req, http::reply_fn reply) {
                 auto ms = std::stoi(req.param("ms"));
                 std::lock_guard guard{workers_mx};
                 workers.emplace_back([ms, reply = std::move(reply)] {
                   std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                   reply(http::json_response(200, {{"slept", ms}}));
                 });
               });
    routes.add("GET", "/whoami",
               [](const http::request& req, http::reply_fn reply) {
                 reply(http::json_response(200, {{"remote", req.remote}}));
               });
    routes.add("GET", "/throw", [](const http::request&, http::reply_fn) {
      throw std::runtime_error("secret internals");
    });
    routes.add("GET", "/drop", [](const http::request&, http::reply_fn) {});
    routes.add("GET", "/twice", [](const http::request&, http::reply_fn reply) {
      reply(http::json_response(200, {{"n", 1}}));
      reply(http::json_response(200, {{"n", 2}}));
    });
    http::server_options opts;
    opts.listen = "127.0.0.1:0";
    opts.body_limit = 1024;
    opts.header_limit = 2048;
    opts.header_timeout = 300ms;
    opts.read_timeout = 500ms;
    opts.idle_timeout = 500ms;
    opts.max_requests_per_connection = 3;
    opts.threads = 2;
    server = std::make_unique<http::server>(opts, routes);
    auto st = server->start();
    BOOST_REQUIRE_MESSAGE(!st, st.detail);
    port = server->port();
  }

  ~fixture() {
    server->shutdown(2s);
    workers.clear();
  }

  std::string get(const std::string& target, bool keep_alive = true) {
    return "GET " + target + " HTTP/1.1\r\nHost: t\r\n"
           + (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
  }
};

nlohmann::json body_of(const souk::testing::http_reply& r) {
  return nlohmann::json::parse(r.body);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(server, fixture)

BOOST_AUTO_TEST_CASE(serves_json_with_a_request_id) {
  auto r = souk::testing::http_request(port, "GET", "/hello");
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(body_of(r)["hello"] == "world");
  BOOST_TEST(r.header("content-type").value() == "application/json");
  BOOST_TEST(r.header("x-request-id").value().size() == 16u);
  BOOST_TEST(r.header("x-content-type-options").value() == "nosniff");
}

BOOST_AUTO_TEST_CASE(x_forwarded_for_counts_only_from_trusted_proxies) {
  // Not trusted (the default): the header is the client's to invent.
  auto r = souk::testing::http_request(port, "GET", "/whoami", {},
                                       {{"X-Forwarded-For", "203.0.113.9"}});
  BOOST_TEST(body_of(r)["remote"] == "127.0.0.1");

  // This machine as the trusted proxy (and 10.0.0.0/8 behind it).
  http::server_options opts;
  opts.listen = "127.0.0.1:0";
  auto trusted = souk::ip_networks::parse("127.0.0.1, 10.0.0.0/8");
  BOOST_REQUIRE(trusted);
  opts.trusted_proxies = *trusted;
  http::server proxied{opts, routes};
  BOOST_REQUIRE(!proxied.start());
  auto remote = [&](std::vector<std::pair<std::string, std::string>> headers) {
    auto reply = souk::testing::http_request(proxied.port(), "GET", "/whoami",
                                             {}, std::move(headers));
    BOOST_REQUIRE_EQUAL(reply.status, 200u);
    return body_of(reply)["remote"].get<std::string>();
  };
  BOOST_TEST(remote({}) == "127.0.0.1");
  BOOST_TEST(remote({{"X-Forwarded-For", "203.0.113.9"}}) == "203.0.113.9");
  // A client's own entry on the left is not believed; the proxies' are
  // skipped from the right.
  BOOST_TEST(
    remote({{"X-Forwarded-For", "198.51.100.1, 203.0.113.9, 10.1.2.3"}})
    == "203.0.113.9");
  // Two header lines are one list.
  BOOST_TEST(remote({{"X-Forwarded-For", "203.0.113.9"},
                     {"X-Forwarded-For", "10.1.2.3"}})
             == "203.0.113.9");
  // Garbage stops the walk at the last address that was one.
  BOOST_TEST(remote({{"X-Forwarded-For", "<script>, 10.1.2.3"}}) == "10.1.2.3");
  BOOST_TEST(remote({{"X-Forwarded-For", "2001:db8::1"}}) == "2001:db8::1");
  // Forwarded (RFC 7239) is not what these proxies write: not believed.
  BOOST_TEST(remote({{"Forwarded", "for=203.0.113.9"}}) == "127.0.0.1");
  proxied.shutdown(1s);

  // Proxies that write RFC 7239 Forwarded: it is read, X-Forwarded-For not.
  opts.forwarded_rfc7239 = true;
  http::server rfc{opts, routes};
  BOOST_REQUIRE(!rfc.start());
  auto remote7239
    = [&](std::vector<std::pair<std::string, std::string>> headers) {
        auto reply = souk::testing::http_request(rfc.port(), "GET", "/whoami",
                                                 {}, std::move(headers));
        BOOST_REQUIRE_EQUAL(reply.status, 200u);
        return body_of(reply)["remote"].get<std::string>();
      };
  BOOST_TEST(remote7239({{"Forwarded", "for=203.0.113.9;proto=https"}})
             == "203.0.113.9");
  BOOST_TEST(remote7239({{"Forwarded", "for=198.51.100.1"},
                         {"Forwarded", "for=203.0.113.9, for=10.1.2.3"}})
             == "203.0.113.9");
  BOOST_TEST(remote7239({{"Forwarded", "for=\"[2001:db8::1]:4711\""}})
             == "2001:db8::1");
  BOOST_TEST(remote7239({{"X-Forwarded-For", "203.0.113.9"}}) == "127.0.0.1");
  // A client's own line, broken on purpose, cannot swallow the proxy's.
  BOOST_TEST(remote7239({{"Forwarded", "for=6.6.6.6, for=\""},
                         {"Forwarded", "for=203.0.113.50"}})
             == "203.0.113.50");
  BOOST_TEST(remote7239({{"Forwarded", "for=10.0.0.1, for=\""},
                         {"Forwarded", "for=203.0.113.50"}})
             == "203.0.113.50");
  rfc.shutdown(1s);
}

// Pages of an allowed origin may call routes under /api/ (CORS): a
// preflight says what they may send; answers say who may read them. Other
// origins, other paths and servers without origins get no CORS headers.
BOOST_AUTO_TEST_CASE(cors_lets_allowed_origins_call_the_api) {
  http::router api;
  api.add(
    "GET", "/api/v1/things/{id}",
    [](const http::request&, http::reply_fn reply) {
      reply(http::json_response(200, {{"thing", 1}}).header("ETag", "\"v1\""));
    });
  api.add("POST", "/api/v1/things",
          [](const http::request&, http::reply_fn reply) {
            reply(http::json_response(201, {{"made", true}}));
          });
  api.add("GET", "/hello", [](const http::request&, http::reply_fn reply) {
    reply(http::json_response(200, {{"hello", "world"}}));
  });
  api.add("POST", "/api/v1/webhooks/paystack",
          [](const http::request&, http::reply_fn reply) {
            reply(http::json_response(200, {{"ok", true}}));
          });
  http::server_options opts;
  opts.listen = "127.0.0.1:0";
  http::server plain_server{opts, api}; // no origins
  BOOST_REQUIRE(!plain_server.start());
  auto origins = souk::web_origins::parse("https://shop.example.com");
  BOOST_REQUIRE(origins);
  opts.cors_origins = *origins;
  opts.cors_max_age = 900s;
  http::server cors{opts, api};
  BOOST_REQUIRE(!cors.start());
  using headers = std::vector<std::pair<std::string, std::string>>;
  auto call = [&](const std::string& method, const std::string& target,
                  headers h, uint16_t at = 0) {
    return souk::testing::http_request(at ? at : cors.port(), method, target,
                                       {}, std::move(h));
  };
  const headers shop{{"Origin", "https://shop.example.com"}};

  auto pre = call(
    "OPTIONS", "/api/v1/things",
    {{"Origin", "https://shop.example.com"},
     {"Access-Control-Request-Method", "POST"},
     {"Access-Control-Request-Headers", "content-type, idempotency-key"}});
  BOOST_TEST(pre.status == 204u);
  BOOST_TEST(pre.header("access-control-allow-origin").value_or("")
             == "https://shop.example.com");
  BOOST_TEST(pre.header("access-control-allow-methods").value_or("") == "POST");
  auto allowed = pre.header("access-control-allow-headers").value_or("");
  BOOST_TEST(allowed.find("Idempotency-Key") != std::string::npos);
  BOOST_TEST(allowed.find("Content-Type") != std::string::npos);
  BOOST_TEST(pre.header("access-control-max-age").value_or("") == "900");
  BOOST_TEST(pre.header("vary").value_or("") == "Origin");
  BOOST_TEST(!pre.header("access-control-allow-credentials"));

  auto got = call("GET", "/api/v1/things/7", shop);
  BOOST_TEST(got.status == 200u);
  BOOST_TEST(got.header("access-control-allow-origin").value_or("")
             == "https://shop.example.com");
  BOOST_TEST(
    got.header("access-control-expose-headers").value_or("").find("ETag")
    != std::string::npos);
  BOOST_TEST(got.header("vary").value_or("") == "Origin");
  // Errors carry the header too, so the page can read the problem.
  auto missing = call("GET", "/api/v1/nothing", shop);
  BOOST_TEST(missing.status == 404u);
  BOOST_TEST(missing.header("access-control-allow-origin").has_value());

  // A preflight for a method the path does not take, or a path that is not
  // there: refused, without the headers a browser needs to go on.
  auto wrong_method = call("OPTIONS", "/api/v1/things",
                           {{"Origin", "https://shop.example.com"},
                            {"Access-Control-Request-Method", "DELETE"}});
  BOOST_TEST(wrong_method.status == 405u);
  BOOST_TEST(wrong_method.header("allow").value_or("") == "POST");
  BOOST_TEST(!wrong_method.header("access-control-allow-origin"));
  auto nowhere = call("OPTIONS", "/api/v1/nothing",
                      {{"Origin", "https://shop.example.com"},
                       {"Access-Control-Request-Method", "GET"}});
  BOOST_TEST(nowhere.status == 404u);
  BOOST_TEST(!nowhere.header("access-control-allow-origin"));

  // Another origin: refused at the preflight, and answers it cannot read.
  const headers evil{{"Origin", "https://evil.example"},
                     {"Access-Control-Request-Method", "POST"}};
  auto refused = call("OPTIONS", "/api/v1/things", evil);
  BOOST_TEST(refused.status == 403u);
  BOOST_TEST(!refused.header("access-control-allow-origin"));
  BOOST_TEST(
    body_of(refused)["detail"].get<std::string>().find("https://evil.example")
    != std::string::npos);
  auto unread = call("GET", "/api/v1/things/7", {evil[0]});
  BOOST_TEST(unread.status == 200u);
  BOOST_TEST(!unread.header("access-control-allow-origin"));
  BOOST_TEST(unread.header("vary").value_or("") == "Origin");

  // The gateway's webhook is no page's to call.
  auto hook = call("POST", "/api/v1/webhooks/paystack", shop);
  BOOST_TEST(hook.status == 200u);
  BOOST_TEST(!hook.header("access-control-allow-origin"));
  BOOST_TEST(!hook.header("vary"));
  auto hook_pre = call("OPTIONS", "/api/v1/webhooks/paystack",
                       {{"Origin", "https://shop.example.com"},
                        {"Access-Control-Request-Method", "POST"}});
  BOOST_TEST(hook_pre.status == 405u);
  BOOST_TEST(!hook_pre.header("access-control-allow-origin"));

  // Outside /api/, and on a server with no origins: nothing of CORS.
  auto page = call("GET", "/hello", shop);
  BOOST_TEST(!page.header("access-control-allow-origin"));
  BOOST_TEST(!page.header("vary"));
  auto plain = call("GET", "/api/v1/things/7", shop, plain_server.port());
  BOOST_TEST(plain.status == 200u);
  BOOST_TEST(!plain.header("access-control-allow-origin"));
  auto plain_pre = call("OPTIONS", "/api/v1/things",
                        {{"Origin", "https://shop.example.com"},
                         {"Access-Control-Request-Method", "POST"}},
                        plain_server.port());
  BOOST_TEST(plain_pre.status == 405u);
  BOOST_TEST(!plain_pre.header("access-control-allow-origin"));

  // The headers belong to one request: the next one on the same connection
  // without an Origin gets none.
  raw_client c{cors.port()};
  c.send("GET /api/v1/things/7 HTTP/1.1\r\nHost: t\r\nOrigin: "
         "https://shop.example.com\r\n\r\n");
  auto first = parse_reply(c.read_response().value_or(""));
  BOOST_TEST(first.header("access-control-allow-origin").has_value());
  c.send("GET /api/v1/things/7 HTTP/1.1\r\nHost: t\r\n\r\n");
  auto second = parse_reply(c.read_response().value_or(""));
  BOOST_TEST(second.status == 200u);
  BOOST_TEST(!second.header("access-control-allow-origin"));
  cors.shutdown(1s);
  plain_server.shutdown(1s);

  // Any origin ("*"): the answer says so rather than naming the origin.
  opts.cors_origins = *souk::web_origins::parse("*");
  http::server any{opts, api};
  BOOST_REQUIRE(!any.start());
  auto anyone = call("GET", "/api/v1/things/7",
                     {{"Origin", "https://whoever.example"}}, any.port());
  BOOST_TEST(anyone.header("access-control-allow-origin").value_or("") == "*");
  auto anyone_pre = call("OPTIONS", "/api/v1/things",
                         {{"Origin", "https://whoever.example"},
                          {"Access-Control-Request-Method", "POST"}},
                         any.port());
  BOOST_TEST(anyone_pre.status == 204u);
  BOOST_TEST(!anyone_pre.header("access-control-allow-credentials"));
  any.shutdown(1s);
}

BOOST_AUTO_TEST_CASE(keeps_a_valid_incoming_request_id_only) {
  auto r = souk::testing::http_request(port, "GET", "/hello", {},
                                       {{"X-Request-Id", "edge-42.a_b"}});
  BOOST_TEST(r.header("x-request-id").value() == "edge-42.a_b");
  r = souk::testing::http_request(port, "GET", "/hello", {},
                                  {{"X-Request-Id", "bad id<script>"}});
  BOOST_TEST(r.header("x-request-id").value() != "bad id<script>");
}

BOOST_AUTO_TEST_CASE(unknown_paths_and_methods_get_problem_documents) {
  auto r = souk::testing::http_request(port, "GET", "/nope");
  BOOST_TEST(r.status == 404u);
  BOOST_TEST(r.header("content-type").value() == "application/problem+json");
  BOOST_TEST(body_of(r)["code"] == "not_found");
  r = souk::testing::http_request(port, "DELETE", "/hello");
  BOOST_TEST(r.status == 405u);
  BOOST_TEST(r.header("allow").value() == "GET");
  BOOST_TEST(body_of(r)["code"] == "method_not_allowed");
}

BOOST_AUTO_TEST_CASE(json_bodies_are_parsed_and_bad_ones_refused) {
  std::vector<std::pair<std::string, std::string>> json_type{
    {"Content-Type", "application/json; charset=utf-8"}};
  auto r = souk::testing::http_request(port, "POST", "/echo", R"({"a":[1,2]})",
                                       json_type);
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(body_of(r)["a"][1] == 2);
  r = souk::testing::http_request(port, "POST", "/echo", R"({"a": [1,)",
                                  json_type);
  BOOST_TEST(r.status == 400u);
  BOOST_TEST(body_of(r)["code"] == "malformed_request");
  BOOST_TEST(body_of(r)["detail"].get<std::string>().find("byte")
             != std::string::npos);
  r = souk::testing::http_request(port, "POST", "/echo", "[1,2]", json_type);
  BOOST_TEST(r.status == 400u);
  r = souk::testing::http_request(port, "POST", "/echo", R"({"a":1})",
                                  {{"Content-Type", "text/plain"}});
  BOOST_TEST(r.status == 415u);
  BOOST_TEST(body_of(r)["code"] == "unsupported_media_type");
}

BOOST_AUTO_TEST_CASE(oversized_bodies_get_413_and_a_closed_connection) {
  raw_client c{port};
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Content-Length: 5000\r\n\r\n");
  auto raw = c.read_response();
  BOOST_REQUIRE(raw);
  auto r = parse_reply(*raw);
  BOOST_TEST(r.status == 413u);
  BOOST_TEST(body_of(r)["code"] == "payload_too_large");
  BOOST_TEST(c.closed_within(3s));
}

BOOST_AUTO_TEST_CASE(oversized_chunked_bodies_get_413_while_streaming) {
  raw_client c{port};
  std::string chunk(600, 'x');
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\n\r\n258\r\n"
         + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
  auto raw = c.read_response();
  BOOST_REQUIRE(raw);
  BOOST_TEST(parse_reply(*raw).status == 413u);
}

BOOST_AUTO_TEST_CASE(garbage_gets_400_and_a_closed_connection) {
  for (std::string garbage :
       {"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET\r\n\r\n",
        "G\x01T / HTTP/1.1\r\n\r\n",
        "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    BOOST_TEST_INFO("request: " << garbage);
    raw_client c{port};
    c.send(garbage);
    auto raw = c.read_response();
    BOOST_REQUIRE(raw);
    auto r = parse_reply(*raw);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(body_of(r)["code"] == "malformed_request");
    BOOST_TEST(c.closed_within(3s));
  }
  // The server is still fine.
  BOOST_TEST(souk::testing::http_request(port, "GET", "/hello").status == 200u);
}

BOOST_AUTO_TEST_CASE(targets_that_are_not_paths_are_refused) {
  raw_client c{port};
  c.send("GET http://evil.example/hello HTTP/1.1\r\nHost: t\r\n\r\n");
  auto raw = c.read_response();
  BOOST_REQUIRE(raw);
  BOOST_TEST(parse_reply(*raw).status == 400u);
}

BOOST_AUTO_TEST_CASE(oversized_headers_get_431) {
  raw_client c{port};
  c.send("GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'a')
         + "\r\n\r\n");
  auto raw = c.read_response();
  BOOST_REQUIRE(raw);
  auto r = parse_reply(*raw);
  BOOST_TEST(r.status == 431u);
  BOOST_TEST(body_of(r)["code"] == "header_too_large");
}

BOOST_AUTO_TEST_CASE(slow_headers_are_cut_off) {
  raw_client c{port};
  c.send("GET /hello HTTP/1.1\r\nHost: t\r\n"); // never finishes
  BOOST_TEST(c.closed_within(3s));
}

BOOST_AUTO_TEST_CASE(slow_bodies_are_cut_off) {
  raw_client c{port};
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Content-Length: 10\r\n\r\n{\"a\"");
  BOOST_TEST(c.closed_within(3s));
}

BOOST_AUTO_TEST_CASE(idle_keep_alive_connections_close) {
  raw_client c{port};
  c.send(get("/hello"));
  BOOST_REQUIRE(c.read_response());
  BOOST_TEST(c.closed_within(3s));
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  raw_client c{port};
  c.send(get("/slow/100") + get("/hello") + get("/twice"));
  auto a = c.read_response();
  auto b = c.read_response();
  auto d = c.read_response();
  BOOST_REQUIRE(a && b && d);
  BOOST_TEST(body_of(parse_reply(*a))["slept"] == 100);
  BOOST_TEST(body_of(parse_reply(*b))["hello"] == "world");
  BOOST_TEST(body_of(parse_reply(*d))["n"] == 1); // the second reply is dropped
  // max_requests_per_connection is 3: the third response closes.
  BOOST_TEST(parse_reply(*d).header("connection").value_or("") == "close");
  BOOST_TEST(c.closed_within(3s));
}

BOOST_AUTO_TEST_CASE(handler_failures_become_500s_without_internals) {
  auto r = souk::testing::http_request(port, "GET", "/throw");
  BOOST_TEST(r.status == 500u);
  BOOST_TEST(body_of(r)["code"] == "internal_error");
  BOOST_TEST(r.body.find("secret internals") == std::string::npos);
  r = souk::testing::http_request(port, "GET", "/drop");
  BOOST_TEST(r.status == 500u);
}

BOOST_AUTO_TEST_CASE(head_sends_headers_only) {
  raw_client c{port};
  c.send("HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  auto all = c.read_all(3s);
  auto r = parse_reply(all);
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(r.header("content-length").value() == "17");
  BOOST_TEST(r.body.empty());
}

BOOST_AUTO_TEST_CASE(shutdown_lets_in_flight_requests_finish) {
  raw_client busy{port};
  busy.send(get("/slow/400"));
  raw_client idle{port};
  idle.send(get("/hello"));
  BOOST_REQUIRE(idle.read_response());
  std::this_thread::sleep_for(100ms); // the slow request is now in its handler
  auto started = std::chrono::steady_clock::now();
  auto done = std::async(std::launch::async, [&] { server->shutdown(5s); });
  BOOST_TEST(idle.closed_within(1s)); // idle connections close at once
  auto raw = busy.read_response(3s);
  BOOST_REQUIRE(raw);
  auto r = parse_reply(*raw);
  BOOST_TEST(r.status == 200u);
  BOOST_TEST(body_of(r)["slept"] == 400);
  BOOST_TEST(r.header("connection").value_or("") == "close");
  BOOST_REQUIRE(done.wait_for(3s) == std::future_status::ready);
  BOOST_TEST((std::chrono::steady_clock::now() - started < 3s));
  BOOST_TEST(server->draining());
  BOOST_CHECK_THROW(raw_client{port}, std::exception);
}

BOOST_AUTO_TEST_CASE(shutdown_gives_up_on_requests_after_the_grace) {
  raw_client busy{port};
  busy.send(get("/slow/1500"));
  std::this_thread::sleep_for(100ms);
  auto started = std::chrono::steady_clock::now();
  server->shutdown(200ms);
  BOOST_TEST((std::chrono::steady_clock::now() - started < 1200ms));
  BOOST_TEST(busy.closed_within(1s));
}

BOOST_AUTO_TEST_SUITE_END()
