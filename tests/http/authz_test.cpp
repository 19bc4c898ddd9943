// Access control over real HTTP: every route × every kind of caller × own or
// someone else's resource, plus sessions, cookies and CSRF, brute force and
// rate limits. Runs on SQLite and PostgreSQL (--backend).

#include <functional>
#include <map>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "souk/accounts/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/http/rate_limit.hpp"
#include "souk/http/routes.hpp"
#include "souk/http/server.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

#include "app.hpp"

using namespace std::chrono_literals;
namespace st = souk::testing;
namespace http = souk::http;
using nlohmann::json;
using souk::testing::app;
using souk::testing::password;

namespace {

// The callers every route is tried with.
enum class persona { anonymous, customer, creator, creator_key, other, op };

const char* name_of(persona p) {
  switch (p) {
  case persona::anonymous:
    return "anonymous";
  case persona::customer:
    return "customer";
  case persona::creator:
    return "creator";
  case persona::creator_key:
    return "creator (API key)";
  case persona::other:
    return "other creator";
  case persona::op:
    return "operator";
  }
  return "?";
}

struct world {
  app& a;
  std::string customer = a.new_user("customer");
  std::string creator = a.new_user("creator");
  std::string other = a.new_user("creator");
  std::string op = a.new_user("operator");

  // A fresh credential for `p` (fresh so that logout rows stay independent).
  std::string token(persona p) {
    switch (p) {
    case persona::anonymous:
      return {};
    case persona::customer:
      return a.login(customer);
    case persona::creator:
      return a.login(creator);
    case persona::creator_key:
      return a.key_of(creator).second;
    case persona::other:
      return a.login(other);
    case persona::op:
      return a.login(op);
    }
    return {};
  }
};

struct row {
  std::string method;
  // Builds the target and body; "own" resources belong to `world::creator`.
  std::function<std::pair<std::string, std::string>(world&)> request;
  std::map<persona, unsigned> expect;
};

std::map<persona, unsigned> all(unsigned s) {
  return {{persona::anonymous, s}, {persona::customer, s},
          {persona::creator, s},   {persona::creator_key, s},
          {persona::other, s},     {persona::op, s}};
}

std::map<persona, unsigned> operators_only(unsigned s) {
  return {{persona::anonymous, 401}, {persona::customer, 403},
          {persona::creator, 403},   {persona::creator_key, 403},
          {persona::other, 403},     {persona::op, s}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(authz)

BOOST_AUTO_TEST_CASE(every_route_for_every_caller) {
  app a;
  world w{a};
  auto fixed = [](std::string target, std::string body = {}) {
    return [=](world&) { return std::make_pair(target, body); };
  };
  using P = persona;
  std::vector<row> table{
    {"GET", fixed("/healthz"), all(200)},
    {"GET", fixed("/readyz"), all(200)},
    {"POST",
     [](world&) {
       return std::make_pair(
         std::string{"/api/v1/auth/signup"},
         json{{"email", "n" + souk::random_hex(6) + "@example.com"},
              {"password", password},
              {"role", "creator"}}
           .dump());
     },
     all(201)},
    {"POST",
     [](world& x) {
       return std::make_pair(
         std::string{"/api/v1/auth/login"},
         json{{"email", x.customer}, {"password", password}}.dump());
     },
     all(200)},
    {"POST",
     fixed("/api/v1/auth/logout"),
     {{P::anonymous, 401},
      {P::customer, 204},
      {P::creator, 204},
      {P::creator_key, 403},
      {P::other, 204},
      {P::op, 204}}},
    {"GET",
     fixed("/api/v1/me"),
     {{P::anonymous, 401},
      {P::customer, 200},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 200}}},
    {"POST",
     fixed("/api/v1/api-keys", json{{"name", "ci"}}.dump()),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 201},
      {P::creator_key, 201},
      {P::other, 201},
      {P::op, 403}}},
    {"GET",
     fixed("/api/v1/api-keys"),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 403}}},
    // The creator's own key: the owner and operators may revoke it; to
    // another creator it does not exist.
    {"DELETE",
     [](world& x) {
       return std::make_pair("/api/v1/api-keys/" + x.a.key_of(x.creator).first,
                             std::string{});
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 204},
      {P::creator_key, 204},
      {P::other, 404},
      {P::op, 204}}},
    // Uploads go to a fresh product of the creator each time.
    {"PUT",
     [](world& x) {
       return std::make_pair("/api/v1/products/" + x.a.make_product(x.creator)
                               + "/files?name=book.pdf",
                             std::string{"%PDF-1.7 tiny"});
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 201},
      {P::creator_key, 201},
      {P::other, 404},
      {P::op, 403}}},
    // Taking a file off a fresh product of the creator each time.
    {"DELETE",
     [](world& x) {
       auto id = x.a.make_product(x.creator);
       return std::make_pair("/api/v1/products/" + id + "/files/"
                               + x.a.add_file(id),
                             std::string{});
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 204},
      {P::creator_key, 204},
      {P::other, 404},
      {P::op, 403}}},
    // Licence keys: a fresh product of the creator each time.
    {"POST",
     [](world& x) {
       return std::make_pair("/api/v1/products/" + x.a.make_product(x.creator)
                               + "/licence-keys",
                             json{{"keys", {"KEY-1"}}}.dump());
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 201},
      {P::creator_key, 201},
      {P::other, 404},
      {P::op, 403}}},
    {"GET",
     [](world& x) {
       return std::make_pair("/api/v1/products/" + x.a.make_product(x.creator)
                               + "/licence-keys",
                             std::string{});
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 404},
      {P::op, 403}}},
    {"DELETE",
     [](world& x) {
       auto id = x.a.make_product(x.creator);
       return std::make_pair("/api/v1/products/" + id + "/licence-keys/"
                               + x.a.add_licence_key(id),
                             std::string{});
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 204},
      {P::creator_key, 204},
      {P::other, 404},
      {P::op, 403}}},
    {"GET",
     fixed("/api/v1/orders/" + souk::new_uuid() + "/licence-keys"),
     {{P::anonymous, 401},
      {P::customer, 404},
      {P::creator, 404},
      {P::creator_key, 404},
      {P::other, 404},
      {P::op, 404}}},
    // Products; "own" ones belong to `world::creator`. Drafts and archived
    // products are visible to their creator and operators only (404 to
    // others); changes are the creator's alone (403 to others who can see
    // the product). PATCH rows send no If-Match, so the creator gets as far
    // as 428 precondition_required.
    {"POST",
     fixed(
       "/api/v1/products",
       json{{"title", "T"}, {"price", {{"amount", 5000}, {"currency", "NGN"}}}}
         .dump()),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 201},
      {P::creator_key, 201},
      {P::other, 201},
      {P::op, 403}}},
    {"GET", fixed("/api/v1/products"), all(200)},
    {"GET",
     fixed("/api/v1/products?mine=1"),
     {{P::anonymous, 401},
      {P::customer, 200},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 200}}},
    {"GET",
     [](world& x) {
       return std::make_pair("/api/v1/products/" + x.a.make_product(x.creator),
                             std::string{});
     },
     {{P::anonymous, 404},
      {P::customer, 404},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 404},
      {P::op, 200}}},
    {"GET",
     [](world& x) {
       return std::make_pair("/api/v1/products/"
                               + x.a.make_product(x.creator, "published"),
                             std::string{});
     },
     all(200)},
    {"GET", fixed("/api/v1/products/" + souk::new_uuid()), all(404)},
    {"PATCH",
     [](world& x) {
       return std::make_pair("/api/v1/products/" + x.a.make_product(x.creator),
                             json{{"title", "New"}}.dump());
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 428},
      {P::creator_key, 428},
      {P::other, 404},
      {P::op, 403}}},
    {"PATCH",
     [](world& x) {
       return std::make_pair("/api/v1/products/"
                               + x.a.make_product(x.creator, "published"),
                             json{{"title", "New"}}.dump());
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 428},
      {P::creator_key, 428},
      {P::other, 403},
      {P::op, 403}}},
    {"POST",
     [](world& x) {
       auto id = x.a.make_product(x.creator);
       x.a.add_file(id);
       return std::make_pair("/api/v1/products/" + id + "/publish",
                             std::string{});
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 404},
      {P::op, 403}}},
    {"POST",
     [](world& x) {
       return std::make_pair("/api/v1/products/"
                               + x.a.make_product(x.creator, "published")
                               + "/archive",
                             std::string{});
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 403},
      {P::op, 403}}},
    {"POST",
     [](world& x) {
       return std::make_pair("/api/v1/products/" + x.a.make_product(x.creator)
                               + "/archive",
                             std::string{});
     },
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 404},
      {P::op, 403}}},
    {"DELETE",
     fixed("/api/v1/api-keys/" + souk::new_uuid()),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 404},
      {P::creator_key, 404},
      {P::other, 404},
      {P::op, 404}}},
    // Payments against a gateway nobody answers (tests/payments covers the
    // rest): checkout is open to all and needs its Idempotency-Key...
    {"POST",
     fixed("/api/v1/orders",
           json{{"product_id", souk::new_uuid()}, {"email", "b@example.com"}}
             .dump()),
     all(422)},
    // ...orders are listed for the signed in (each sees their own)...
    {"GET",
     fixed("/api/v1/orders"),
     {{P::anonymous, 401},
      {P::customer, 200},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 200}}},
    // ...and invisible unless theirs (a guest needs the order's token)...
    {"GET",
     fixed("/api/v1/orders/" + souk::new_uuid()),
     {{P::anonymous, 401},
      {P::customer, 404},
      {P::creator, 404},
      {P::creator_key, 404},
      {P::other, 404},
      {P::op, 404}}},
    {"POST",
     fixed("/api/v1/orders/" + souk::new_uuid() + "/refund"),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 404},
      {P::creator_key, 404},
      {P::other, 404},
      {P::op, 404}}},
    // ...and so are an order's downloads; fresh links and receipts are
    // open to guests too (sent to the order's email, which a guest must
    // name), and a product's downloads are its creator's.
    {"GET",
     fixed("/api/v1/orders/" + souk::new_uuid() + "/downloads"),
     {{P::anonymous, 401},
      {P::customer, 404},
      {P::creator, 404},
      {P::creator_key, 404},
      {P::other, 404},
      {P::op, 404}}},
    {"POST",
     fixed("/api/v1/orders/" + souk::new_uuid() + "/downloads",
           json{{"email", "buyer@example.com"}}.dump()),
     all(404)},
    {"POST",
     fixed("/api/v1/orders/" + souk::new_uuid() + "/receipt",
           json{{"email", "buyer@example.com"}}.dump()),
     all(404)},
    {"GET",
     fixed("/api/v1/products/" + souk::new_uuid() + "/downloads"),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 404},
      {P::creator_key, 404},
      {P::other, 404},
      {P::op, 404}}},
    // A download link is its own credential: an unknown one is 404 to all.
    {"GET", fixed("/d/" + std::string(43, 'x')), all(404)},
    // ...the webhook takes only a signature, whoever else calls...
    {"POST", fixed("/api/v1/webhooks/paystack", R"({"event":"x","data":{}})"),
     all(401)},
    // ...and the return page only looks up a reference.
    {"GET", fixed("/api/v1/payments/paystack/return?reference=nope"), all(404)},
    // The wallet is each creator's own.
    {"GET",
     fixed("/api/v1/wallet"),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 403}}},
    {"GET",
     fixed("/api/v1/wallet/entries"),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 403}}},
    // So are payout accounts and payouts (a bad account number and a
    // missing Idempotency-Key are refused before the gateway is asked).
    {"PUT",
     fixed("/api/v1/payout-account", json{{"currency", "NGN"},
                                          {"name", "Ada"},
                                          {"account_number", "x"},
                                          {"bank_code", "058"}}
                                       .dump()),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 422},
      {P::creator_key, 422},
      {P::other, 422},
      {P::op, 403}}},
    {"GET",
     fixed("/api/v1/payout-account"),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 403}}},
    // So is the dashboard: each creator's own sales.
    {"GET",
     fixed("/api/v1/dashboard/sales?bucket=week"),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 403}}},
    {"POST",
     fixed("/api/v1/payouts",
           json{{"amount", 100'000}, {"currency", "NGN"}}.dump()),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 422},
      {P::creator_key, 422},
      {P::other, 422},
      {P::op, 403}}},
    {"GET",
     fixed("/api/v1/payouts"),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 200},
      {P::creator_key, 200},
      {P::other, 200},
      {P::op, 403}}},
    {"GET",
     fixed("/api/v1/payouts/" + souk::new_uuid()),
     {{P::anonymous, 401},
      {P::customer, 403},
      {P::creator, 404},
      {P::creator_key, 404},
      {P::other, 404},
      {P::op, 403}}},
    // The operator's surface: operators only, everyone else 401/403 (an
    // unknown order is 404 to operators alone).
    {"GET", fixed("/metrics"), operators_only(200)},
    {"GET", fixed("/admin/actors"), operators_only(200)},
    {"GET", fixed("/admin/actors?status=passivated"), operators_only(200)},
    {"GET", fixed("/admin/flows"), operators_only(200)},
    {"GET", fixed("/admin/orders/" + souk::new_uuid()), operators_only(404)},
    {"POST", fixed("/admin/orders/" + souk::new_uuid() + "/retry"),
     operators_only(404)},
    {"POST", fixed("/admin/orders/" + souk::new_uuid() + "/cancel"),
     operators_only(404)},
    {"POST", fixed("/admin/orders/" + souk::new_uuid() + "/fulfil"),
     operators_only(404)},
    {"POST", fixed("/admin/orders/" + souk::new_uuid() + "/refund"),
     operators_only(404)},
  };
  // Every route the router serves has a row: a route added later without
  // one fails here.
  for (auto& route : a.routes.routes()) {
    http::router one;
    one.add(route.method, route.pattern,
            [](const http::request&, http::reply_fn) {});
    bool covered = false;
    for (auto& r : table) {
      auto target = r.request(w).first;
      auto m = one.match(r.method, target.substr(0, target.find('?')));
      covered = covered || m.target != nullptr || m.stream_target != nullptr;
    }
    BOOST_TEST_INFO(route.method << " " << route.pattern);
    BOOST_TEST(covered);
  }

  for (auto& r : table)
    for (auto& [who, status] : r.expect) {
      auto [target, body] = r.request(w);
      auto res = a.call(r.method, target, w.token(who), body);
      BOOST_TEST_INFO(r.method << " " << target << " as " << name_of(who)
                               << ": " << res.body);
      BOOST_TEST(res.status == status);
      if (res.status >= 400) {
        auto doc = json::parse(res.body);
        BOOST_TEST(res.header("content-type").value()
                   == "application/problem+json");
        BOOST_TEST(doc.contains("code"));
      }
    }
}

BOOST_AUTO_TEST_CASE(creators_see_only_their_own_keys) {
  app a;
  world w{a};
  auto mine = a.key_of(w.creator);
  auto theirs = a.key_of(w.other);
  auto res = a.call("GET", "/api/v1/api-keys", w.token(persona::creator));
  BOOST_REQUIRE_EQUAL(res.status, 200u);
  auto items = json::parse(res.body)["items"];
  BOOST_TEST(res.body.find(mine.first) != std::string::npos);
  BOOST_TEST(res.body.find(theirs.first) == std::string::npos);
  BOOST_TEST(res.body.find(mine.second) == std::string::npos); // never again
  // Another creator's key and a key that does not exist look the same.
  auto other = a.call("DELETE", "/api/v1/api-keys/" + theirs.first,
                      w.token(persona::creator));
  auto none = a.call("DELETE", "/api/v1/api-keys/" + souk::new_uuid(),
                     w.token(persona::creator));
  BOOST_TEST(other.status == 404u);
  BOOST_TEST(none.status == 404u);
  BOOST_TEST(json::parse(other.body)["code"] == json::parse(none.body)["code"]);
  // And the other creator's key still works.
  BOOST_TEST(a.call("GET", "/api/v1/me", theirs.second).status == 200u);
}

BOOST_AUTO_TEST_CASE(revoked_and_expired_credentials_are_refused) {
  auto p = app::cheap();
  p.session_ttl = 300ms;
  app a{p};
  world w{a};
  auto token = w.token(persona::customer);
  BOOST_TEST(a.call("GET", "/api/v1/me", token).status == 200u);
  BOOST_TEST(a.call("POST", "/api/v1/auth/logout", token).status == 204u);
  auto after = a.call("GET", "/api/v1/me", token);
  BOOST_TEST(after.status == 401u);
  BOOST_TEST(after.header("www-authenticate").value() == "Bearer");
  auto expiring = w.token(persona::customer);
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(a.call("GET", "/api/v1/me", expiring).status == 401u);
  auto key = a.key_of(w.creator);
  BOOST_TEST(a.call("GET", "/api/v1/me", key.second).status == 200u);
  BOOST_TEST(
    a.call("DELETE", "/api/v1/api-keys/" + key.first, key.second).status
    == 204u);
  BOOST_TEST(a.call("GET", "/api/v1/me", key.second).status == 401u);
  BOOST_TEST(a.call("GET", "/api/v1/me", "not-a-token").status == 401u);
  auto malformed = st::http_request(a.port, "GET", "/api/v1/me", {},
                                    {{"Authorization", "Basic Zm9vOmJhcg=="}});
  BOOST_TEST(malformed.status == 401u);
}

BOOST_AUTO_TEST_CASE(cookie_sessions_need_the_csrf_token_to_write) {
  app a;
  world w{a};
  auto res = a.call("POST", "/api/v1/auth/login", {},
                    json{{"email", w.creator}, {"password", password}}.dump());
  BOOST_REQUIRE_EQUAL(res.status, 200u);
  auto doc = json::parse(res.body);
  std::string session_cookie, csrf_cookie;
  for (auto& [k, v] : res.headers)
    if (k == "set-cookie") {
      if (v.starts_with("souk_session="))
        session_cookie = v;
      if (v.starts_with("souk_csrf="))
        csrf_cookie = v;
    }
  BOOST_TEST(session_cookie.find("HttpOnly") != std::string::npos);
  BOOST_TEST(session_cookie.find("SameSite=Lax") != std::string::npos);
  BOOST_TEST(csrf_cookie.find("HttpOnly") == std::string::npos);
  auto cookie = "souk_session=" + doc["token"].get<std::string>();
  auto me = st::http_request(a.port, "GET", "/api/v1/me", {},
                             {{"Cookie", "theme=dark; " + cookie}});
  BOOST_TEST(me.status == 200u);
  auto body = json{{"name", "from the browser"}}.dump();
  auto forged = st::http_request(
    a.port, "POST", "/api/v1/api-keys", body,
    {{"Cookie", cookie}, {"Content-Type", "application/json"}});
  BOOST_TEST(forged.status == 403u);
  auto wrong = st::http_request(a.port, "POST", "/api/v1/api-keys", body,
                                {{"Cookie", cookie},
                                 {"Content-Type", "application/json"},
                                 {"X-CSRF-Token", "00"}});
  BOOST_TEST(wrong.status == 403u);
  auto ok = st::http_request(
    a.port, "POST", "/api/v1/api-keys", body,
    {{"Cookie", cookie},
     {"Content-Type", "application/json"},
     {"X-CSRF-Token", doc["csrf_token"].get<std::string>()}});
  BOOST_TEST(ok.status == 201u);
  // A stale cookie does not stand in the way of logging in again.
  auto relog = st::http_request(
    a.port, "POST", "/api/v1/auth/login",
    json{{"email", w.creator}, {"password", password}}.dump(),
    {{"Cookie", "souk_session=stale"}, {"Content-Type", "application/json"}});
  BOOST_TEST(relog.status == 200u);
}

BOOST_AUTO_TEST_CASE(brute_force_is_throttled_and_the_owner_gets_back_in) {
  auto p = app::cheap();
  p.failures_before_block = 5;
  p.block_initial = 200ms;
  p.block_max = 600ms;
  app a{p};
  world w{a};
  auto attempt = [&](const std::string& pw) {
    return a.call("POST", "/api/v1/auth/login", {},
                  json{{"email", w.customer}, {"password", pw}}.dump());
  };
  int unauthorized = 0, throttled = 0;
  for (int i = 0; i < 50; ++i) {
    auto res = attempt("wrong password " + std::to_string(i));
    if (res.status == 401u)
      ++unauthorized;
    else if (res.status == 429u) {
      ++throttled;
      BOOST_TEST(std::stoi(res.header("retry-after").value()) >= 1);
    } else
      BOOST_TEST_ERROR("unexpected status " << res.status);
  }
  BOOST_TEST(unauthorized >= 5);
  BOOST_TEST(throttled >= 40);
  // Blocked: even the right password is refused for now...
  BOOST_TEST(attempt(password).status == 429u);
  // ...and works once the window has passed.
  std::this_thread::sleep_for(800ms);
  auto res = attempt(password);
  BOOST_TEST(res.status == 200u);
  BOOST_TEST(json::parse(res.body).contains("token"));
}

BOOST_AUTO_TEST_CASE(login_errors_do_not_reveal_which_emails_exist) {
  app a;
  world w{a};
  auto wrong = a.call(
    "POST", "/api/v1/auth/login", {},
    json{{"email", w.customer}, {"password", "nope nope nope"}}.dump());
  auto ghost = a.call(
    "POST", "/api/v1/auth/login", {},
    json{{"email", "ghost@example.com"}, {"password", "nope nope nope"}}
      .dump());
  BOOST_TEST(wrong.status == 401u);
  BOOST_TEST(ghost.status == 401u);
  auto strip = [](std::string body) {
    auto doc = json::parse(body);
    doc.erase("request_id");
    return doc.dump();
  };
  BOOST_TEST(strip(wrong.body) == strip(ghost.body));
}

BOOST_AUTO_TEST_CASE(abuse_prone_routes_are_rate_limited_per_address) {
  app a{app::cheap(), 60, 3};
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(
      a.call("POST", "/api/v1/auth/login", {},
             json{{"email", "x@example.com"}, {"password", "y"}}.dump())
        .status
      == 401u);
  auto res = a.call("POST", "/api/v1/auth/login", {},
                    json{{"email", "x@example.com"}, {"password", "y"}}.dump());
  BOOST_TEST(res.status == 429u);
  BOOST_TEST(json::parse(res.body)["code"] == "rate_limited");
  BOOST_TEST(std::stoi(res.header("retry-after").value()) >= 1);
  // Other routes are not affected.
  BOOST_TEST(a.call("GET", "/healthz", {}).status == 200u);
}

BOOST_AUTO_TEST_CASE(behind_a_trusted_proxy_each_client_has_its_own_limit) {
  // Every request comes from the proxy (127.0.0.1); X-Forwarded-For says
  // for whom.
  app a{app::cheap(), 60, 3, 1 << 20, false, "127.0.0.1"};
  auto login = [&](const std::string& client) {
    return a
      .call("POST", "/api/v1/auth/login", {},
            json{{"email", "x@example.com"}, {"password", "y"}}.dump(),
            {{"X-Forwarded-For", client}})
      .status;
  };
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(login("203.0.113.1") == 401u);
  BOOST_TEST(login("203.0.113.1") == 429u);
  // Another buyer behind the same proxy is not locked out by the first.
  BOOST_TEST(login("203.0.113.2") == 401u);
  // Nor does inventing an address on the left buy a fresh allowance.
  BOOST_TEST(login("198.51.100.50, 203.0.113.1") == 429u);
}

BOOST_AUTO_TEST_CASE(abuse_prone_routes_are_rate_limited_per_account) {
  app a{app::cheap(), 60, 3};
  world w{a};
  // Each request comes from another address, so only the account's own
  // bucket can run out.
  auto body = json{{"name", "k"}}.dump();
  int created = 0, limited = 0;
  for (int i = 0; i < 5; ++i) {
    auto res = a.call("POST", "/api/v1/api-keys", a.login(w.creator), body, {},
                      "127.0.0." + std::to_string(10 + i));
    created += res.status == 201u;
    limited += res.status == 429u;
  }
  BOOST_TEST(created == 3);
  BOOST_TEST(limited == 2);
}

BOOST_AUTO_TEST_CASE(bad_input_names_the_field_and_creates_nothing) {
  app a;
  struct bad {
    std::string body;
    std::string field;
  };
  for (auto& [body, field] : std::vector<bad>{
         {json{{"password", password}}.dump(), "email"},
         {json{{"email", "nope"}, {"password", password}}.dump(), "email"},
         {json{{"email", "a@example.com"}, {"password", "short"}}.dump(),
          "password"},
         {json{{"email", "a@example.com"}, {"password", "password123"}}.dump(),
          "password"},
         {json{{"email", "a@example.com"},
               {"password", password},
               {"role", "operator"}}
            .dump(),
          "role"},
         {json{
            {"email", "a@example.com"}, {"password", password}, {"admin", true}}
            .dump(),
          "admin"},
         {json{{"email", 5}, {"password", password}}.dump(), "email"},
       }) {
    auto res = a.call("POST", "/api/v1/auth/signup", {}, body);
    BOOST_TEST_INFO(body << " -> " << res.body);
    BOOST_TEST(res.status == 422u);
    BOOST_TEST(json::parse(res.body)["field"] == field);
  }
  // Nothing was created: the email is still free.
  auto ok
    = a.call("POST", "/api/v1/auth/signup", {},
             json{{"email", "a@example.com"}, {"password", password}}.dump());
  BOOST_TEST(ok.status == 201u);
  auto dup
    = a.call("POST", "/api/v1/auth/signup", {},
             json{{"email", " A@Example.com "}, {"password", password}}.dump());
  BOOST_TEST(dup.status == 409u);
  BOOST_TEST(json::parse(dup.body)["code"] == "conflict");
}

BOOST_AUTO_TEST_SUITE_END()
