// The catalog over real HTTP: the wire shapes, problem documents naming
// fields, ETag / If-Match (428, 412), and who sees what. Runs on SQLite and
// PostgreSQL (--backend).

#include <atomic>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/accounts/service.hpp"
#include "souk/catalog/service.hpp"
#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/http/rate_limit.hpp"
#include "souk/http/routes.hpp"
#include "souk/http/server.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/migrations.hpp"
#include "souk/testing/support.hpp"

#include "../http/app.hpp"

using namespace std::chrono_literals;
namespace st = souk::testing;
namespace http = souk::http;
using nlohmann::json;

namespace {

// The shared in-process souk (tests/http/app.hpp) with four callers.
struct app : souk::testing::app {
  std::string creator = login(new_user("creator"));
  std::string other = login(new_user("creator"));
  std::string customer = login(new_user("customer"));
  std::string op = login(new_user("operator"));

  // A draft of the creator's; returns its document.
  json create(json body = {}) {
    if (body.is_null())
      body = book();
    auto res = call("POST", "/api/v1/products", creator, body.dump());
    BOOST_REQUIRE_MESSAGE(res.status == 201u, res.body);
    return json::parse(res.body);
  }

  json publish(const json& doc) {
    auto id = doc["id"].get<std::string>();
    add_file(id);
    auto res = call("POST", "/api/v1/products/" + id + "/publish", creator);
    BOOST_REQUIRE_MESSAGE(res.status == 200u, res.body);
    return json::parse(res.body);
  }

  static json book() {
    return {{"title", "A book"},
            {"description", "Pages."},
            {"price", {{"amount", 250000}, {"currency", "NGN"}}}};
  }
};

json problem_of(const st::http_reply& res) {
  BOOST_TEST(res.header("content-type").value_or("")
             == "application/problem+json");
  return json::parse(res.body);
}

} // namespace

BOOST_AUTO_TEST_SUITE(routes)

BOOST_AUTO_TEST_CASE(create_answers_a_draft_with_an_etag) {
  app a;
  auto body = app::book();
  body["min_price"] = {{"amount", 5000}, {"currency", "NGN"}};
  auto res = a.call("POST", "/api/v1/products", a.creator, body.dump());
  BOOST_REQUIRE_MESSAGE(res.status == 201u, res.body);
  auto doc = json::parse(res.body);
  BOOST_TEST(res.header("etag").value() == "\"1\"");
  BOOST_TEST(res.header("location").value()
             == "/api/v1/products/" + doc["id"].get<std::string>());
  for (auto key :
       {"id", "creator_id", "title", "description", "price", "min_price",
        "flow", "status", "version", "created_at", "updated_at", "published_at",
        "archived_at", "files", "sold_out"})
    BOOST_TEST(doc.contains(key), key);
  BOOST_TEST(doc.size() == 15u);
  BOOST_TEST(doc["sold_out"] == false); // a download is never sold out
  BOOST_TEST(doc["status"] == "draft");
  BOOST_TEST(doc["flow"] == "digital_download");
  BOOST_TEST(doc["version"] == 1);
  BOOST_TEST(doc["price"] == (json{{"amount", 250000}, {"currency", "NGN"}}));
  BOOST_TEST(doc["min_price"] == (json{{"amount", 5000}, {"currency", "NGN"}}));
  BOOST_TEST(doc["published_at"].is_null());
  BOOST_TEST(doc["files"] == json::array());
  // Without min_price it is null; without description, empty.
  auto plain = a.create(
    {{"title", "Plain"}, {"price", {{"amount", 200}, {"currency", "USD"}}}});
  BOOST_TEST(plain["min_price"].is_null());
  BOOST_TEST(plain["description"] == "");
}

BOOST_AUTO_TEST_CASE(bad_prices_and_fields_are_named) {
  app a;
  auto with = [](const char* key, json value) {
    auto b = app::book();
    b[key] = std::move(value);
    return b;
  };
  auto price = [&](json amount, json currency = "NGN") {
    return with("price", {{"amount", amount}, {"currency", currency}});
  };
  auto without = [](const char* key) {
    auto b = app::book();
    b.erase(key);
    return b;
  };
  struct bad {
    json body;
    std::string field;
  };
  std::vector<bad> cases{
    {price(-5000), "price.amount"},
    {price(0), "price.amount"},
    {price(4999), "price.amount"},
    {price(199, "USD"), "price.amount"},
    {price(12.5), "price.amount"},
    {price(5000.0), "price.amount"},
    {price("100"), "price.amount"},
    {price(true), "price.amount"},
    {price(nullptr), "price.amount"},
    {price(json::parse("18446744073709551615")), "price.amount"},
    {price(json::parse("1e5")), "price.amount"},
    {price(5000, "EUR"), "price.currency"},
    {price(5000, 566), "price.currency"},
    {with("price", {{"currency", "NGN"}}), "price.amount"},
    {with("price", {{"amount", 5000}}), "price.currency"},
    {with("price", {{"amount", 5000}, {"currency", "NGN"}, {"cents", 1}}),
     "price.cents"},
    {with("price", 5000), "price"},
    {with("price", "NGN 50.00"), "price"},
    {without("price"), "price"},
    {with("min_price", {{"amount", 300000}, {"currency", "NGN"}}),
     "min_price.amount"},
    {with("min_price", {{"amount", 10}, {"currency", "NGN"}}),
     "min_price.amount"},
    {with("min_price", {{"amount", 2.5}, {"currency", "NGN"}}),
     "min_price.amount"},
    {with("min_price", {{"amount", 500}, {"currency", "USD"}}),
     "min_price.currency"},
    {without("title"), "title"},
    {with("title", "   "), "title"},
    {with("title", 42), "title"},
    {with("title", std::string(201, 't')), "title"},
    {with("description", std::string(10001, 'd')), "description"},
    {with("flow", "subscription"), "flow"},
    {with("flow", 1), "flow"},
    {with("colour", "blue"), "colour"},
  };
  for (auto& [body, field] : cases) {
    auto res = a.call("POST", "/api/v1/products", a.creator, body.dump());
    BOOST_TEST_INFO(body.dump().substr(0, 200) << " -> " << res.body);
    BOOST_TEST(res.status == 422u);
    auto doc = problem_of(res);
    BOOST_TEST(doc["code"] == "invalid_field");
    BOOST_TEST(doc["field"] == field);
  }
  // Nothing was created.
  auto mine = a.call("GET", "/api/v1/products?mine=1", a.creator);
  BOOST_REQUIRE_EQUAL(mine.status, 200u);
  BOOST_TEST(json::parse(mine.body)["items"].empty());
  // Not JSON at all.
  auto res = st::http_request(
    a.port, "POST", "/api/v1/products", "title=x",
    {{"Authorization", "Bearer " + a.creator}, {"Content-Type", "text/plain"}});
  BOOST_TEST(res.status == 415u);
}

BOOST_AUTO_TEST_CASE(patch_needs_the_current_etag) {
  app a;
  auto doc = a.create();
  auto target = "/api/v1/products/" + doc["id"].get<std::string>();
  auto edit = json{{"title", "Second edition"}}.dump();

  auto missing = a.call("PATCH", target, a.creator, edit);
  BOOST_TEST(missing.status == 428u);
  BOOST_TEST(problem_of(missing)["code"] == "precondition_required");

  auto ok = a.call("PATCH", target, a.creator, edit, {{"If-Match", "\"1\""}});
  BOOST_REQUIRE_MESSAGE(ok.status == 200u, ok.body);
  BOOST_TEST(ok.header("etag").value() == "\"2\"");
  BOOST_TEST(json::parse(ok.body)["title"] == "Second edition");
  BOOST_TEST(json::parse(ok.body)["version"] == 2);

  for (auto tag : {"\"1\"", "\"3\"", "1", "W/\"2\"", "*", "\"x\""}) {
    auto res = a.call("PATCH", target, a.creator, edit, {{"If-Match", tag}});
    BOOST_TEST_INFO(tag);
    BOOST_TEST(res.status == 412u);
    BOOST_TEST(problem_of(res)["code"] == "precondition_failed");
  }
  // GET hands out the ETag to use.
  auto got = a.call("GET", target, a.creator);
  BOOST_TEST(got.header("etag").value() == "\"2\"");
  // Body errors name the field; null clears only min_price.
  auto bad
    = a.call("PATCH", target, a.creator,
             json{{"price", {{"amount", 12.5}, {"currency", "NGN"}}}}.dump(),
             {{"If-Match", "\"2\""}});
  BOOST_TEST(bad.status == 422u);
  BOOST_TEST(problem_of(bad)["field"] == "price.amount");
  auto null_title
    = a.call("PATCH", target, a.creator, json{{"title", nullptr}}.dump(),
             {{"If-Match", "\"2\""}});
  BOOST_TEST(problem_of(null_title)["field"] == "title");
  auto set_min = a.call(
    "PATCH", target, a.creator,
    json{{"min_price", {{"amount", 6000}, {"currency", "NGN"}}}}.dump(),
    {{"If-Match", "\"2\""}});
  BOOST_REQUIRE_EQUAL(set_min.status, 200u);
  BOOST_TEST(json::parse(set_min.body)["min_price"]["amount"] == 6000);
  auto clear
    = a.call("PATCH", target, a.creator, json{{"min_price", nullptr}}.dump(),
             {{"If-Match", "\"3\""}});
  BOOST_REQUIRE_EQUAL(clear.status, 200u);
  BOOST_TEST(json::parse(clear.body)["min_price"].is_null());
}

BOOST_AUTO_TEST_CASE(concurrent_patches_with_one_etag_have_one_winner) {
  app a;
  auto doc = a.create();
  auto target = "/api/v1/products/" + doc["id"].get<std::string>();
  std::atomic<int> ready{0};
  unsigned status[2] = {};
  auto edit = [&](int i) {
    ++ready;
    while (ready.load() < 2)
      std::this_thread::yield();
    status[i] = a.call("PATCH", target, a.creator,
                       json{{"title", "writer " + std::to_string(i)}}.dump(),
                       {{"If-Match", "\"1\""}})
                  .status;
  };
  std::thread t0{edit, 0};
  std::thread t1{edit, 1};
  t0.join();
  t1.join();
  BOOST_TEST(std::min(status[0], status[1]) == 200u);
  BOOST_TEST(std::max(status[0], status[1]) == 412u);
}

BOOST_AUTO_TEST_CASE(publishing_needs_a_file_and_bumps_the_version) {
  app a;
  auto doc = a.create();
  auto id = doc["id"].get<std::string>();
  auto refused
    = a.call("POST", "/api/v1/products/" + id + "/publish", a.creator);
  BOOST_TEST(refused.status == 409u);
  auto problem = problem_of(refused);
  BOOST_TEST(problem["code"] == "conflict");
  BOOST_TEST(problem["detail"].get<std::string>().find("upload a file first")
             != std::string::npos);
  a.add_file(id);
  auto stale = a.call("POST", "/api/v1/products/" + id + "/publish", a.creator,
                      {}, {{"If-Match", "\"7\""}});
  BOOST_TEST(stale.status == 412u);
  auto pub = a.call("POST", "/api/v1/products/" + id + "/publish", a.creator,
                    {}, {{"If-Match", "\"1\""}});
  BOOST_REQUIRE_MESSAGE(pub.status == 200u, pub.body);
  BOOST_TEST(pub.header("etag").value() == "\"2\"");
  auto pdoc = json::parse(pub.body);
  BOOST_TEST(pdoc["status"] == "published");
  BOOST_TEST(pdoc["files"].size() == 1u);
  BOOST_TEST(pdoc["files"][0]["name"] == "a.pdf");
  BOOST_TEST(pdoc["files"][0].size() == 5u); // no storage key
  auto again = a.call("POST", "/api/v1/products/" + id + "/publish", a.creator);
  BOOST_TEST(again.status == 200u);
  BOOST_TEST(again.header("etag").value() == "\"2\"");
  auto arch = a.call("POST", "/api/v1/products/" + id + "/archive", a.creator);
  BOOST_TEST(arch.status == 200u);
  BOOST_TEST(json::parse(arch.body)["status"] == "archived");
  auto edit = a.call("PATCH", "/api/v1/products/" + id, a.creator,
                     json{{"title", "x"}}.dump(), {{"If-Match", "\"3\""}});
  BOOST_TEST(edit.status == 409u);
}

BOOST_AUTO_TEST_CASE(who_sees_and_changes_what) {
  app a;
  auto draft = a.create();
  auto pub = a.publish(a.create());
  auto d = "/api/v1/products/" + draft["id"].get<std::string>();
  auto p = "/api/v1/products/" + pub["id"].get<std::string>();
  // Drafts: the creator and operators; nobody else.
  BOOST_TEST(a.call("GET", d, {}).status == 404u);
  BOOST_TEST(a.call("GET", d, a.customer).status == 404u);
  BOOST_TEST(a.call("GET", d, a.other).status == 404u);
  BOOST_TEST(a.call("GET", d, a.creator).status == 200u);
  BOOST_TEST(a.call("GET", d, a.op).status == 200u);
  // Published: everyone, even with a bad token on this open route.
  for (auto* t : {"", "bogus-token"})
    BOOST_TEST(a.call("GET", p, t).status == 200u);
  BOOST_TEST(a.call("GET", p, a.customer).status == 200u);
  // Changes: the creator only. 404 where the caller cannot see it, 403
  // where they can.
  auto edit = json{{"title", "Mine"}}.dump();
  std::vector<std::pair<std::string, std::string>> tag{{"If-Match", "\"1\""}};
  BOOST_TEST(a.call("PATCH", d, a.other, edit, tag).status == 404u);
  BOOST_TEST(a.call("PATCH", p, a.other, edit, tag).status == 403u);
  BOOST_TEST(a.call("PATCH", d, a.customer, edit, tag).status == 403u);
  BOOST_TEST(a.call("PATCH", d, {}, edit, tag).status == 401u);
  BOOST_TEST(a.call("POST", d + "/publish", a.other).status == 404u);
  BOOST_TEST(a.call("POST", p + "/archive", a.other).status == 403u);
  BOOST_TEST(a.call("POST", p + "/archive", a.op).status == 403u);
  BOOST_TEST(a.call("GET", "/api/v1/products/" + souk::new_uuid(), a.op).status
             == 404u);
  BOOST_TEST(
    a.call("POST", "/api/v1/products", a.customer, app::book().dump()).status
    == 403u);
}

BOOST_AUTO_TEST_CASE(listings_over_http) {
  app a;
  for (int i = 0; i < 3; ++i)
    a.publish(a.create({{"title", "100% book " + std::to_string(i)},
                        {"price", {{"amount", 5000}, {"currency", "NGN"}}}}));
  a.create(); // a draft
  auto res = a.call("GET", "/api/v1/products?limit=2", {});
  BOOST_REQUIRE_EQUAL(res.status, 200u);
  auto doc = json::parse(res.body);
  BOOST_TEST(doc["items"].size() == 2u);
  BOOST_REQUIRE(doc["next_cursor"].is_string());
  auto next = a.call("GET",
                     "/api/v1/products?limit=2&cursor="
                       + doc["next_cursor"].get<std::string>(),
                     {});
  auto doc2 = json::parse(next.body);
  BOOST_TEST(doc2["items"].size() == 1u);
  BOOST_TEST(doc2["next_cursor"].is_null());
  auto search = a.call("GET", "/api/v1/products?q=100%25%20BOOK%201", {});
  BOOST_TEST(json::parse(search.body)["items"].size() == 1u);
  auto mine = a.call("GET", "/api/v1/products?mine=1", a.creator);
  BOOST_TEST(json::parse(mine.body)["items"].size() == 4u);
  struct bad {
    std::string query;
    unsigned status;
    std::string field;
  };
  for (auto& [query, status, field] : std::vector<bad>{
         {"limit=0", 422, "limit"},
         {"limit=101", 422, "limit"},
         {"limit=ten", 422, "limit"},
         {"limit=-1", 422, "limit"},
         {"cursor=bogus", 422, "cursor"},
         {"mine=maybe", 422, "mine"},
         {"mine=1", 401, ""},
       }) {
    auto r = a.call("GET", "/api/v1/products?" + query, {});
    BOOST_TEST_INFO(query << " -> " << r.body);
    BOOST_TEST(r.status == status);
    if (!field.empty())
      BOOST_TEST(problem_of(r)["field"] == field);
  }
}

BOOST_AUTO_TEST_SUITE_END()
