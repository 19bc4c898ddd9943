// Checkout with an Idempotency-Key, and webhooks that must be refused:
// forged, truncated, replayed with another body, unsigned. Runs on SQLite
// and PostgreSQL.

#include <future>

#include "souk/core/hash.hpp"
#include "souk/metrics/registry.hpp"

#include "shop.hpp"

using namespace souk::testing;

BOOST_AUTO_TEST_SUITE(checkout)

BOOST_AUTO_TEST_CASE(idempotency_key_replays_and_refuses) {
  shop s;
  auto body
    = json{{"product_id", s.product}, {"email", "Buyer@Example.com"}}.dump();
  auto key = souk::new_uuid();
  auto first = s.checkout_raw(body, key);
  BOOST_REQUIRE_MESSAGE(first.status == 201u, first.body);
  BOOST_TEST(!first.header("idempotent-replayed").has_value());
  auto doc = json::parse(first.body);
  BOOST_TEST(doc["order"]["buyer_email"] == "buyer@example.com");
  BOOST_TEST(first.header("location").value_or("")
             == "/api/v1/orders/" + doc["order"]["id"].get<std::string>());

  auto again = s.checkout_raw(body, key);
  BOOST_TEST(again.status == 201u);
  // The same answer, but for the buyer's access token: only its hash is
  // kept, so a replay mints a new one, and the old one stops working.
  auto strip = [](const std::string& text) {
    auto d = json::parse(text);
    d["order"].erase("access_token");
    return d;
  };
  BOOST_TEST(strip(again.body) == strip(first.body));
  auto old_token = doc["order"]["access_token"].get<std::string>();
  auto new_token
    = json::parse(again.body)["order"]["access_token"].get<std::string>();
  BOOST_TEST(old_token != new_token);
  BOOST_TEST(s.count("SELECT COUNT(*) FROM idempotency_keys WHERE "
                     "response_body LIKE '%access_token%'")
             == 0);
  auto id = doc["order"]["id"].get<std::string>();
  BOOST_TEST(http_request(s.port, "GET", "/api/v1/orders/" + id, {},
                          {{"X-Order-Token", new_token}})
               .status
             == 200u);
  BOOST_TEST(http_request(s.port, "GET", "/api/v1/orders/" + id, {},
                          {{"X-Order-Token", old_token}})
               .status
             == 404u);
  BOOST_TEST(again.header("idempotent-replayed").value_or("") == "true");

  auto other = s.checkout_raw(
    json{{"product_id", s.product}, {"email", "else@example.com"}}.dump(), key);
  BOOST_TEST(other.status == 422u);
  BOOST_TEST(json::parse(other.body)["code"] == "idempotency_mismatch");

  auto missing = s.checkout_raw(body, "");
  BOOST_TEST(missing.status == 422u);
  BOOST_TEST(json::parse(missing.body)["field"] == "Idempotency-Key");

  BOOST_TEST(s.count("SELECT COUNT(*) FROM orders") == 1);
  BOOST_TEST(s.count("SELECT COUNT(*) FROM payments") == 1);
  BOOST_TEST(s.gw->stats().initialize_calls == 1u);
}

BOOST_AUTO_TEST_CASE(
  a_guest_follows_the_order_with_its_token_and_lists_show_it) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string token = order["order"]["access_token"];
  BOOST_TEST(token.size() >= 40u);
  // Only the hash is kept.
  BOOST_TEST(s.count("SELECT COUNT(*) FROM order_access WHERE token_hash = '"
                     + souk::sha256_hex(token) + "'")
             == 1);
  auto as_guest = [&](const std::string& path, const std::string& t) {
    std::vector<std::pair<std::string, std::string>> h;
    if (!t.empty())
      h.emplace_back("X-Order-Token", t);
    return http_request(s.port, "GET", path, {}, h);
  };
  auto seen = as_guest("/api/v1/orders/" + id, token);
  BOOST_REQUIRE_MESSAGE(seen.status == 200u, seen.body);
  BOOST_TEST(json::parse(seen.body)["viewer"] == "buyer");
  BOOST_TEST(json::parse(seen.body)["state"] == "pending");
  // No token is 401; a wrong one, or another order's, is 404.
  BOOST_TEST(as_guest("/api/v1/orders/" + id, "").status == 401u);
  BOOST_TEST(as_guest("/api/v1/orders/" + id, token + "x").status == 404u);
  auto other = s.checkout();
  BOOST_TEST(as_guest("/api/v1/orders/" + id,
                      other["order"]["access_token"].get<std::string>())
               .status
             == 404u);
  BOOST_TEST(as_guest("/api/v1/orders/" + id + "/downloads", token).status
             == 200u);
  BOOST_TEST(as_guest("/api/v1/orders/" + id + "/downloads", "nope").status
             == 404u);
  // A guest who later signs in (to an account that did not place the
  // order) is still its buyer with the token, for fresh links too: found
  // (nothing to download yet), where without the token it does not exist.
  auto signup = http_request(
    s.port, "POST", "/api/v1/auth/signup",
    json{{"email", "later@example.com"}, {"password", op_password}}.dump(),
    {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(signup.status == 201u, signup.body);
  auto login = http_request(
    s.port, "POST", "/api/v1/auth/login",
    json{{"email", "later@example.com"}, {"password", op_password}}.dump(),
    {{"Content-Type", "application/json"}});
  std::string session = json::parse(login.body)["token"];
  auto links = [&](bool with_token) {
    std::vector<std::pair<std::string, std::string>> h{
      {"Authorization", "Bearer " + session}};
    if (with_token)
      h.emplace_back("X-Order-Token", token);
    return http_request(s.port, "POST", "/api/v1/orders/" + id + "/downloads",
                        {}, h);
  };
  auto as_buyer = links(true);
  BOOST_TEST(as_buyer.status == 409u);
  BOOST_TEST(json::parse(as_buyer.body)["code"] == "conflict");
  BOOST_TEST(links(false).status == 404u);
  auto read = http_request(
    s.port, "GET", "/api/v1/orders/" + id, {},
    {{"Authorization", "Bearer " + session}, {"X-Order-Token", token}});
  BOOST_TEST(json::parse(read.body)["viewer"] == "buyer");

  // The buyer's return from the gateway sends a browser to the order page.
  s.press(order, "pay");
  auto back = http_request(
    s.port, "GET", "/api/v1/payments/paystack/return?reference=souk-" + id, {},
    {{"Accept", "text/html"}});
  BOOST_TEST(back.status == 303u);
  BOOST_TEST(back.header("location").value_or("") == "/orders/" + id);

  // The creator lists the sales newest first, a page at a time; a customer
  // who bought nothing lists nothing.
  auto page = s.as_creator("GET", "/api/v1/orders?limit=1");
  BOOST_REQUIRE_MESSAGE(page.status == 200u, page.body);
  auto doc = json::parse(page.body);
  BOOST_REQUIRE(doc["items"].size() == 1u);
  BOOST_TEST(doc["items"][0]["id"] == other["order"]["id"]);
  BOOST_TEST(doc["items"][0]["product_title"] == "A book");
  std::string cursor = doc["next_cursor"];
  std::string encoded;
  for (char c : cursor)
    encoded += c == '|'   ? std::string{"%7C"}
               : c == ':' ? "%3A"
                          : std::string(1, c);
  auto next = s.as_creator("GET", "/api/v1/orders?limit=1&cursor=" + encoded);
  BOOST_REQUIRE_MESSAGE(next.status == 200u, next.body);
  BOOST_TEST(json::parse(next.body)["items"][0]["id"] == id);
  BOOST_TEST(json::parse(next.body)["next_cursor"].is_null());
  auto filtered = s.as_creator("GET", "/api/v1/orders?state=nope");
  BOOST_TEST(json::parse(filtered.body)["items"].empty());
  BOOST_TEST(s.as_creator("GET", "/api/v1/orders?as=all").status == 422u);
  BOOST_TEST(s.as_creator("GET", "/api/v1/orders?cursor=x").status == 422u);
  auto mine = s.as_creator("GET", "/api/v1/orders?as=buyer");
  BOOST_TEST(json::parse(mine.body)["items"].empty());

  // A buyer writing in gives the email they paid with: the creator finds
  // their orders by it, however it is written, and no one else's.
  auto third = s.checkout_raw(
    json{{"product_id", s.product}, {"email", " Someone.Else@Example.com"}}
      .dump(),
    souk::new_uuid());
  BOOST_REQUIRE_MESSAGE(third.status == 201u, third.body);
  auto by_email
    = s.as_creator("GET", "/api/v1/orders?email=SOMEONE.ELSE%40example.com");
  BOOST_REQUIRE_MESSAGE(by_email.status == 200u, by_email.body);
  auto found = json::parse(by_email.body)["items"];
  BOOST_REQUIRE(found.size() == 1u);
  BOOST_TEST(found[0]["id"] == json::parse(third.body)["order"]["id"]);
  BOOST_TEST(found[0]["buyer_email"] == "someone.else@example.com");
  auto theirs = s.as_creator("GET", "/api/v1/orders?email=buyer%40example.com");
  BOOST_TEST(json::parse(theirs.body)["items"].size() == 2u);
  auto bad = s.as_creator("GET", "/api/v1/orders?email=nobody");
  BOOST_TEST(bad.status == 422u);
  BOOST_TEST(json::parse(bad.body)["field"] == "email");
}

BOOST_AUTO_TEST_CASE(
  a_poller_holding_the_current_etag_gets_304_until_a_change) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string token = order["order"]["access_token"];
  auto get = [&](const std::string& t, const std::string& inm) {
    std::vector<std::pair<std::string, std::string>> h{{"X-Order-Token", t}};
    if (!inm.empty())
      h.emplace_back("If-None-Match", inm);
    return http_request(s.port, "GET", "/api/v1/orders/" + id, {}, h);
  };
  auto first = get(token, "");
  BOOST_REQUIRE_MESSAGE(first.status == 200u, first.body);
  auto etag = first.header("etag").value_or("");
  BOOST_TEST(etag.rfind("W/\"", 0) == 0u, etag);
  // Nothing changed: 304 with no body, for the tag alone, in a list, or *.
  for (auto inm : {etag, "W/\"other\", " + etag, std::string{"*"}}) {
    auto again = get(token, inm);
    BOOST_TEST(again.status == 304u, inm);
    BOOST_TEST(again.body.empty());
    BOOST_TEST(again.header("etag").value_or("") == etag);
  }
  BOOST_TEST(get(token, "W/\"other\"").status == 200u);
  // The tag lets nobody in: a wrong token is still 404, none 401.
  BOOST_TEST(get(token + "x", etag).status == 404u);
  BOOST_TEST(get("", etag).status == 401u);
  // The creator is shown another document (viewer), so another tag.
  auto creator = http_request(
    s.port, "GET", "/api/v1/orders/" + id, {},
    {{"Authorization", "Bearer " + s.creator_token}, {"If-None-Match", etag}});
  BOOST_TEST(creator.status == 200u);
  BOOST_TEST(creator.header("etag").value_or(etag) != etag);
  // Paid and delivered: the old tag no longer matches.
  s.press(order, "pay");
  BOOST_REQUIRE(s.reaches(id, "delivered"));
  auto changed = get(token, etag);
  BOOST_REQUIRE_MESSAGE(changed.status == 200u, changed.body);
  BOOST_TEST(json::parse(changed.body)["state"] == "delivered");
  auto delivered = changed.header("etag").value_or("");
  BOOST_TEST(delivered != etag);
  BOOST_TEST(get(token, delivered).status == 304u);
  // A refund request changes the order again.
  auto refund = s.as_creator("POST", "/api/v1/orders/" + id + "/refund",
                             json{{"reason", "asked"}}.dump());
  BOOST_REQUIRE_MESSAGE(refund.status == 202u, refund.body);
  BOOST_TEST(get(token, delivered).status == 200u);
}

BOOST_AUTO_TEST_CASE(a_long_poll_waits_for_the_order_to_change) {
  using clock = std::chrono::steady_clock;
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string token = order["order"]["access_token"];
  auto get = [&, port = s.port](const std::string& inm,
                                const std::string& prefer) {
    std::vector<std::pair<std::string, std::string>> h{
      {"X-Order-Token", token}};
    if (!inm.empty())
      h.emplace_back("If-None-Match", inm);
    if (!prefer.empty())
      h.emplace_back("Prefer", prefer);
    // Longer than any wait asked for here.
    return http_request(port, "GET", "/api/v1/orders/" + id, {}, h, {}, 40s);
  };
  auto first = get("", "wait=5");
  // Nothing to wait for without a tag: the order at once, and no wait
  // applied.
  BOOST_REQUIRE_MESSAGE(first.status == 200u, first.body);
  BOOST_TEST(!first.header("preference-applied").has_value());
  auto etag = first.header("etag").value_or("");
  BOOST_REQUIRE(!etag.empty());

  // Unchanged: the answer waits for the whole wait, then says 304.
  auto t0 = clock::now();
  auto unchanged = get(etag, "respond-async, wait=1");
  BOOST_TEST(unchanged.status == 304u);
  BOOST_TEST((clock::now() - t0 >= 900ms));
  BOOST_TEST(unchanged.header("preference-applied").value_or("") == "wait=1");
  // A wait it cannot read is ignored (RFC 7240): 304 at once.
  for (auto bad : {"wait=soon", "wait=-1", "wait", "wait=0"}) {
    auto r = get(etag, bad);
    BOOST_TEST(r.status == 304u, bad);
    BOOST_TEST(!r.header("preference-applied").has_value(), bad);
  }
  // A tag that is not the current one: the order at once, whatever the
  // wait; a wait beyond 30 s is cut to 30 s.
  auto other = get("W/\"other\"", "wait=3600");
  BOOST_TEST(other.status == 200u);
  BOOST_TEST(other.header("preference-applied").value_or("") == "wait=30");

  // A poll waiting when the buyer pays comes back with the change, long
  // before its wait ends.
  t0 = clock::now();
  auto waiting
    = std::async(std::launch::async, [&] { return get(etag, "wait=25"); });
  BOOST_REQUIRE((waiting.wait_for(300ms) == std::future_status::timeout));
  s.press(order, "pay");
  auto changed = waiting.get();
  BOOST_REQUIRE_MESSAGE(changed.status == 200u, changed.body);
  BOOST_TEST((clock::now() - t0 < 20s));
  BOOST_TEST(json::parse(changed.body)["state"] != "pending");
  BOOST_TEST(changed.header("etag").value_or(etag) != etag);
  BOOST_REQUIRE(s.reaches(id, "delivered"));

  // The order page's script long-polls the same way, through the page's
  // own status route (the order's cookie instead of the header).
  auto page = [&, port = s.port](const std::string& inm) {
    std::vector<std::pair<std::string, std::string>> h{
      {"Cookie", "souk_order=" + token}, {"Accept", "application/json"}};
    if (!inm.empty()) {
      h.emplace_back("If-None-Match", inm);
      h.emplace_back("Prefer", "wait=1");
    }
    return http_request(port, "GET", "/orders/" + id + "/status", {}, h);
  };
  auto status = page("");
  BOOST_REQUIRE_MESSAGE(status.status == 200u, status.body);
  BOOST_TEST(json::parse(status.body)["state"] == "delivered");
  auto page_tag = status.header("etag").value_or("");
  BOOST_REQUIRE(!page_tag.empty());
  t0 = clock::now();
  auto same = page(page_tag);
  BOOST_TEST(same.status == 304u);
  BOOST_TEST(same.body.empty());
  BOOST_TEST((clock::now() - t0 >= 900ms));
  BOOST_TEST(same.header("preference-applied").value_or("") == "wait=1");
  BOOST_TEST(same.header("etag").value_or("") == page_tag);
  // Both answers are counted; only the one not held by a wait is timed, so
  // the route's latency is not the length of its long polls.
  auto metrics = http_request(s.port, "GET", "/metrics", {},
                              {{"Authorization", "Bearer " + s.op_token}});
  BOOST_REQUIRE_EQUAL(metrics.status, 200u);
  std::map<std::string, std::string> route{{"route", "/orders/{id}/status"}};
  BOOST_TEST(
    souk::metrics::sum_of(metrics.body, "souk_http_requests_total", route)
      .value_or(0)
    == 2);
  BOOST_TEST(souk::metrics::sum_of(
               metrics.body, "souk_http_request_duration_seconds_count", route)
               .value_or(0)
             == 1);

  // A change the engine does not announce (another node's, or a payment's
  // status alone, as reconciliation writes it) is seen at the next recheck.
  auto before = get("", "").header("etag").value_or("");
  t0 = clock::now();
  auto unannounced
    = std::async(std::launch::async, [&] { return get(before, "wait=25"); });
  BOOST_REQUIRE((unannounced.wait_for(300ms) == std::future_status::timeout));
  BOOST_REQUIRE(!s.db->write([&](soci::session& sql) {
    sql << "UPDATE payments SET updated_at = '2999-01-01T00:00:00.000Z' "
           "WHERE order_id = :o",
      soci::use(id);
  }));
  auto seen = unannounced.get();
  BOOST_TEST(seen.status == 200u);
  BOOST_TEST((clock::now() - t0 < 20s)); // the recheck is every 5 s
  BOOST_TEST(seen.header("etag").value_or(before) != before);

  // A node stopping answers the polls it holds at once.
  auto last = get("", "").header("etag").value_or("");
  t0 = clock::now();
  auto held
    = std::async(std::launch::async, [&] { return get(last, "wait=25"); });
  BOOST_REQUIRE((held.wait_for(300ms) == std::future_status::timeout));
  s.node->stop();
  auto stopped = held.get();
  BOOST_TEST(stopped.status == 304u);
  BOOST_TEST((clock::now() - t0 < 20s));
}

BOOST_AUTO_TEST_CASE(bad_checkouts_leave_nothing_behind) {
  shop s;
  auto refused = [&](const json& body, const std::string& field) {
    auto res = s.checkout_raw(body.dump(), souk::new_uuid());
    BOOST_TEST_INFO(body.dump() << " -> " << res.body);
    BOOST_TEST(res.status >= 400u);
    BOOST_TEST(res.status < 500u);
    BOOST_TEST(json::parse(res.body)["field"] == field);
  };
  refused({{"product_id", souk::new_uuid()}, {"email", "b@example.com"}},
          "product_id");
  refused({{"product_id", s.product}, {"email", "not an email"}}, "email");
  refused({{"product_id", s.product}}, "email");
  refused(
    {{"product_id", s.product}, {"email", "b@example.com"}, {"amount", 1}},
    "amount");
  refused({{"product_id", s.product}, {"email", "b@example.com"}, {"x", 1}},
          "x");
  BOOST_TEST(s.count("SELECT COUNT(*) FROM orders") == 0);
  BOOST_TEST(s.count("SELECT COUNT(*) FROM idempotency_keys") == 0);
  BOOST_TEST(s.gw->stats().initialize_calls == 0u);
}

BOOST_AUTO_TEST_CASE(a_gateway_that_is_down_changes_nothing) {
  shop s;
  s.sandbox_server->shutdown(1s);
  auto key = souk::new_uuid();
  auto body
    = json{{"product_id", s.product}, {"email", "b@example.com"}}.dump();
  auto res = s.checkout_raw(body, key);
  BOOST_TEST(res.status == 503u, res.body);
  BOOST_TEST(res.header("retry-after").has_value());
  BOOST_TEST(s.count("SELECT COUNT(*) FROM orders") == 0);
  BOOST_TEST(s.count("SELECT COUNT(*) FROM idempotency_keys") == 0);
}

BOOST_AUTO_TEST_CASE(webhooks_without_a_valid_signature_change_nothing) {
  shop s;
  auto order = s.checkout();
  std::string id = order["order"]["id"];
  std::string ref = order["payment"]["reference"];
  auto body = json{{"event", "charge.success"},
                   {"data",
                    {{"id", 42},
                     {"reference", ref},
                     {"status", "success"},
                     {"amount", 500000},
                     {"currency", "NGN"}}}}
                .dump();
  auto good = souk::hmac_sha512_hex(secret, body);
  auto post = [&](const std::string& b, const std::string& sig) {
    std::vector<std::pair<std::string, std::string>> h{
      {"Content-Type", "application/json"}};
    if (!sig.empty())
      h.emplace_back("x-paystack-signature", sig);
    return http_request(s.port, "POST", "/api/v1/webhooks/paystack", b, h);
  };
  auto other = body;
  other.replace(other.find("500000"), 6, "999999");
  auto wrong_key = souk::hmac_sha512_hex("sk_test_someone_else", body);
  for (auto [b, sig, what] :
       {std::tuple{body, std::string{}, "unsigned"},
        std::tuple{body, wrong_key, "forged with another key"},
        std::tuple{body.substr(0, body.size() - 1), good, "truncated"},
        std::tuple{other, good, "replayed with another body"},
        std::tuple{body, good.substr(0, 127), "short signature"},
        std::tuple{body, std::string(128, '0'), "zeros"}}) {
    auto res = post(b, sig);
    BOOST_TEST_INFO(what);
    BOOST_TEST(res.status == 401u);
    BOOST_TEST(json::parse(res.body)["code"] == "unauthorized");
  }
  BOOST_TEST(s.count("SELECT COUNT(*) FROM inbox") == 0);
  BOOST_TEST(s.gw->verify_calls(ref) == 0u);
  BOOST_TEST(s.state(id) == "pending");

  // The same bytes, rightly signed, are taken (once) and checked with the
  // gateway, which says the charge is not paid: the order does not move.
  auto ok = post(body, good);
  BOOST_TEST(ok.status == 200u);
  BOOST_TEST(json::parse(ok.body)["duplicate"] == false);
  auto dup = post(body, good);
  BOOST_TEST(json::parse(dup.body)["duplicate"] == true);
  BOOST_REQUIRE(shop::eventually([&] { return s.inbox_open() == 0; }));
  BOOST_TEST(s.count("SELECT COUNT(*) FROM inbox") == 1);
  BOOST_TEST(s.gw->verify_calls(ref) == 1u);
  BOOST_TEST(s.state(id) == "pending");
  BOOST_TEST(s.payment(id).gateway_status == "abandoned");
}

BOOST_AUTO_TEST_SUITE_END()
