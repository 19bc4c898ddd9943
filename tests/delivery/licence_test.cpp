// Licence keys end to end over real HTTP: a creator uploads keys for a
// product on the shipped `licence_key` flow; buyers pay through the sandbox
// gateway and each gets its own key, once, in the receipt and on the order;
// a refund revokes it; an empty pool refuses checkout (sold out), and an
// order paid for a key that was gone meanwhile is refunded by its flow.

#include <filesystem>
#include <future>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "souk/delivery/service.hpp"
#include "souk/email/message.hpp"
#include "souk/email/templates.hpp"

#include "shop.hpp"

namespace st = souk::testing;
using st::json;
using namespace std::chrono_literals;

namespace {

struct licence_shop : st::shop {
  std::string app; // a product on the licence_key flow

  licence_shop() {
    auto res
      = as_creator("POST", "/api/v1/products",
                   json{{"title", "The App"},
                        {"description", "Software."},
                        {"price", {{"amount", 250000}, {"currency", "NGN"}}},
                        {"flow", "licence_key"}}
                     .dump());
    BOOST_REQUIRE_MESSAGE(res.status == 201, res.body);
    app = json::parse(res.body)["id"];
    BOOST_TEST(json::parse(res.body)["sold_out"] == true); // no key yet
  }

  st::http_reply add_keys(const json& body) {
    return as_creator("POST", "/api/v1/products/" + app + "/licence-keys",
                      body.dump());
  }

  json keys(const std::string& query = {}) {
    auto res
      = as_creator("GET", "/api/v1/products/" + app + "/licence-keys" + query);
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    return json::parse(res.body);
  }

  /// The order's keys as its buyer sees them (with the order's token).
  json order_keys(const json& order) {
    auto res = st::http_request(
      port, "GET",
      "/api/v1/orders/" + order["order"]["id"].get<std::string>()
        + "/licence-keys",
      {}, {{"X-Order-Token", order["order"]["access_token"]}});
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    return json::parse(res.body)["items"];
  }

  std::vector<std::string> mails() {
    return st::read_files(std::filesystem::path{cfg.data_dir} / "mail", ".eml");
  }

  /// `sold_out` of the app as its creator reads it (fresh, not cached), then
  /// in the creator's own listing: "true/true".
  std::string sold_out() {
    auto one = as_creator("GET", "/api/v1/products/" + app);
    BOOST_REQUIRE_MESSAGE(one.status == 200, one.body);
    auto list = as_creator("GET", "/api/v1/products?mine=1&limit=100");
    BOOST_REQUIRE_MESSAGE(list.status == 200, list.body);
    std::optional<bool> listed;
    auto items = json::parse(list.body)["items"];
    for (auto& p : items) {
      if (p["id"] == app)
        listed = p["sold_out"].get<bool>();
      else // the shop's download products are never sold out
        BOOST_TEST(p["sold_out"] == false);
    }
    BOOST_REQUIRE(listed);
    return fmt::format("{}/{}", json::parse(one.body)["sold_out"].get<bool>(),
                       *listed);
  }

  /// `sold_out` of the app as anyone reads it: public reads are cached, and
  /// `sold_out` must be fresh all the same.
  bool public_sold_out(const std::string& id = {}) {
    auto res = st::http_request(port, "GET",
                                "/api/v1/products/" + (id.empty() ? app : id));
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    return json::parse(res.body)["sold_out"].get<bool>();
  }

  long long issued(const std::string& order_id) {
    return count("SELECT COUNT(*) FROM licence_keys WHERE order_id = '"
                 + order_id + "'");
  }
};

std::string code_of(const st::http_reply& r) {
  auto doc = json::parse(r.body, nullptr, false);
  return doc.is_object() ? doc.value("code", std::string{}) : std::string{};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(licence_e2e, licence_shop)

BOOST_AUTO_TEST_CASE(keys_are_issued_once_mailed_shown_and_revoked_by_refund) {
  // Nothing to give yet: the product cannot be published.
  auto early = as_creator("POST", "/api/v1/products/" + app + "/publish");
  BOOST_TEST(early.status == 409u);
  BOOST_TEST(early.body.find("licence-keys") != std::string::npos);

  // Bad lists are refused whole, naming the bad key.
  auto empty = add_keys({{"keys", {"KEY-A", "  "}}});
  BOOST_TEST(empty.status == 422u);
  BOOST_TEST(json::parse(empty.body)["field"] == "keys[1]");
  BOOST_TEST(add_keys({{"keys", {"KEY-A", 7}}}).status == 422u);
  BOOST_TEST(add_keys({{"keys", {"KEY\nA"}}}).status == 422u);
  BOOST_TEST(add_keys({{"keys", json::array()}}).status == 422u);
  BOOST_TEST(add_keys({{"pool", "No Spaces"}, {"keys", {"KEY-A"}}}).status
             == 422u);
  BOOST_TEST(add_keys({{"keys", {"KEY-A"}}, {"poll", "x"}}).status == 422u);
  BOOST_TEST(count("SELECT COUNT(*) FROM licence_keys") == 0);
  BOOST_TEST(sold_out() == "true/true"); // no key yet

  // Keys are added once: repeats in a list and keys the pool has are
  // counted, not added again.
  auto first = add_keys({{"keys", {"KEY-A", "KEY-B", " KEY-A "}}});
  BOOST_REQUIRE_MESSAGE(first.status == 201u, first.body);
  BOOST_TEST(json::parse(first.body)["added"] == 2);
  auto again = add_keys({{"keys", {"KEY-B", "KEY-C"}}});
  BOOST_REQUIRE_MESSAGE(again.status == 201u, again.body);
  BOOST_TEST(json::parse(again.body)["added"] == 1);
  BOOST_TEST(json::parse(again.body)["already_present"] == 1);
  BOOST_TEST(add_keys({{"keys", {"KEY-C"}}}).status == 200u);
  auto stock = keys()["stock"];
  BOOST_REQUIRE_EQUAL(stock.size(), 1u);
  BOOST_TEST(stock[0]["pool"] == "default");
  BOOST_TEST(stock[0]["left"] == 3);

  auto pub = as_creator("POST", "/api/v1/products/" + app + "/publish");
  BOOST_REQUIRE_MESSAGE(pub.status == 200u, pub.body);
  BOOST_TEST(json::parse(pub.body)["sold_out"] == false);
  BOOST_TEST(sold_out() == "false/false");
  BOOST_TEST(!public_sold_out()); // and now cached

  // Two buyers, two keys, the oldest first; each key in its receipt.
  auto a = checkout(app);
  auto b = checkout(app);
  BOOST_REQUIRE(press(a, "pay").status < 400);
  std::string a_id = a["order"]["id"];
  BOOST_REQUIRE(reaches(a_id, "delivered"));
  BOOST_REQUIRE(press(b, "pay").status < 400);
  std::string b_id = b["order"]["id"];
  BOOST_REQUIRE(reaches(b_id, "delivered"));
  auto a_keys = order_keys(a);
  BOOST_REQUIRE_EQUAL(a_keys.size(), 1u);
  BOOST_TEST(a_keys[0]["key"] == "KEY-A");
  BOOST_TEST(order_keys(b)[0]["key"] == "KEY-B");
  BOOST_REQUIRE(eventually([&] { return mails().size() >= 2; }));
  int mailed = 0;
  for (auto& m : mails()) {
    auto text = souk::email::decode_quoted_printable(m);
    if (text.find(a_id) != std::string::npos) {
      BOOST_TEST(text.find("KEY-A") != std::string::npos);
      BOOST_TEST(text.find("KEY-B") == std::string::npos);
      // A product with no files says nothing about files.
      BOOST_TEST(text.find("has not added files") == std::string::npos);
      ++mailed;
    }
  }
  BOOST_TEST(mailed == 1);
  // A receipt sent again carries the key again.
  auto resent = as_creator("POST", "/api/v1/orders/" + a_id + "/receipt");
  BOOST_REQUIRE_MESSAGE(resent.status == 202u, resent.body);
  BOOST_REQUIRE(eventually([&] { return mails().size() >= 3; }));
  mailed = 0;
  for (auto& m : mails()) {
    auto text = souk::email::decode_quoted_printable(m);
    if (text.find(a_id) != std::string::npos
        && text.find("KEY-A") != std::string::npos)
      ++mailed;
  }
  BOOST_TEST(mailed == 2);
  // Re-sending is limited like fresh links, though the order has no links
  // to count: its emails are counted instead.
  unsigned last = 202;
  for (int i = 0; i < 6 && last == 202u; ++i)
    last = as_creator("POST", "/api/v1/orders/" + a_id + "/receipt").status;
  BOOST_TEST(last == 429u);
  // Someone without the order's token sees nothing; another order's token
  // is no key to this one; an operator sees it.
  auto stranger = st::http_request(
    port, "GET", "/api/v1/orders/" + a_id + "/licence-keys", {}, {});
  BOOST_TEST(stranger.status == 401u);
  auto other_token
    = st::http_request(port, "GET", "/api/v1/orders/" + a_id + "/licence-keys",
                       {}, {{"X-Order-Token", b["order"]["access_token"]}});
  BOOST_TEST(other_token.status == 404u);
  BOOST_TEST(other_token.body.find("KEY-") == std::string::npos);
  auto op
    = st::http_request(port, "GET", "/api/v1/orders/" + a_id + "/licence-keys",
                       {}, {{"Authorization", "Bearer " + op_token}});
  BOOST_REQUIRE_EQUAL(op.status, 200u);
  BOOST_TEST(json::parse(op.body)["items"][0]["key"] == "KEY-A");

  // The step run again (a retry after a crash) gives the same key.
  auto templates = souk::email::templates::load();
  BOOST_REQUIRE(templates);
  souk::delivery::service svc{
    db,
    std::make_shared<const souk::email::templates>(std::move(*templates)),
    {}};
  BOOST_TEST(!svc.run_action("licence.issue_key", a_id, R"({"pool":"default"})",
                             "again"));
  BOOST_TEST(issued(a_id) == 1);
  BOOST_TEST(keys("?status=left")["items"].size() == 1u);

  // The creator sees who holds what, page by page.
  auto page = keys("?limit=2");
  BOOST_REQUIRE_EQUAL(page["items"].size(), 2u);
  BOOST_TEST(page["items"][0]["key"] == "KEY-A");
  BOOST_TEST(page["items"][0]["order_id"] == a_id);
  BOOST_TEST(page["items"][0]["status"] == "issued");
  auto rest = keys("?limit=2&cursor=" + page["next_cursor"].get<std::string>());
  BOOST_REQUIRE_EQUAL(rest["items"].size(), 1u);
  BOOST_TEST(rest["items"][0]["key"] == "KEY-C");
  BOOST_TEST(rest["next_cursor"].is_null());
  BOOST_TEST(
    as_creator("GET", "/api/v1/products/" + app + "/licence-keys?status=sold")
      .status
    == 422u);

  // An issued key stays on record; one left can be withdrawn. Then the
  // product is sold out: checkout says so, and nothing is written.
  std::string a_key_id = page["items"][0]["id"];
  auto held = as_creator("DELETE", "/api/v1/products/" + app + "/licence-keys/"
                                     + a_key_id);
  BOOST_TEST(held.status == 409u);
  std::string c_key_id = rest["items"][0]["id"];
  auto withdrawn = as_creator("DELETE", "/api/v1/products/" + app
                                          + "/licence-keys/" + c_key_id);
  BOOST_TEST(withdrawn.status == 204u);
  // The product says so before anyone tries to buy it, to everyone.
  BOOST_TEST(public_sold_out()); // first: the creator's read re-caches it
  BOOST_TEST(sold_out() == "true/true");
  auto orders_before = count("SELECT COUNT(*) FROM orders");
  auto late = checkout_raw(
    json{{"product_id", app}, {"email", "late@example.com"}}.dump(),
    souk::new_uuid());
  BOOST_TEST(late.status == 409u);
  BOOST_TEST(code_of(late) == "sold_out");
  BOOST_TEST(count("SELECT COUNT(*) FROM orders") == orders_before);

  // A refund revokes the key: the buyer no longer sees it, the creator
  // sees which key to refuse from now on.
  auto refund = as_creator("POST", "/api/v1/orders/" + a_id + "/refund");
  BOOST_REQUIRE_MESSAGE(refund.status < 300, refund.body);
  BOOST_REQUIRE(reaches(a_id, "refunded"));
  auto revoked = order_keys(a);
  BOOST_REQUIRE_EQUAL(revoked.size(), 1u);
  BOOST_TEST(!revoked[0].contains("key"));
  BOOST_TEST(revoked[0]["revoked_reason"] == "refunded");
  auto seen = keys("?status=revoked")["items"];
  BOOST_REQUIRE_EQUAL(seen.size(), 1u);
  BOOST_TEST(seen[0]["key"] == "KEY-A");
  // It never goes back to the pool.
  BOOST_TEST(keys("?status=left")["items"].empty());
}

BOOST_AUTO_TEST_CASE(an_order_paid_for_a_key_gone_meanwhile_is_refunded) {
  BOOST_REQUIRE(add_keys({{"keys", {"ONLY-KEY"}}}).status == 201u);
  BOOST_REQUIRE(
    as_creator("POST", "/api/v1/products/" + app + "/publish").status == 200u);
  BOOST_TEST(!public_sold_out()); // and now cached
  auto before = balance("pending");
  // Two buyers start while one key is left; both pay.
  auto a = checkout(app);
  auto b = checkout(app);
  BOOST_REQUIRE(press(a, "pay").status < 400);
  BOOST_REQUIRE(press(b, "pay").status < 400);
  std::string a_id = a["order"]["id"];
  std::string b_id = b["order"]["id"];
  BOOST_REQUIRE(eventually([&] {
    auto sa = state(a_id), sb = state(b_id);
    return (sa == "delivered" && sb == "refunded")
           || (sa == "refunded" && sb == "delivered");
  }));
  bool a_lost = state(a_id) == "refunded";
  auto& lost = a_lost ? a_id : b_id;
  auto& won = a_lost ? b_id : a_id;
  BOOST_TEST(ever_in(lost, "refunding"));
  BOOST_TEST(issued(lost) == 0);
  BOOST_TEST(issued(won) == 1);
  // Sold out at once, though the product's document is cached.
  BOOST_TEST(public_sold_out());
  // The creator keeps one sale's share, not two: the other was reversed.
  auto share = count("SELECT amount FROM ledger_entries WHERE cause_kind = "
                     "'sale' AND cause_id = '"
                     + won + "' AND credit_account LIKE 'creator:%:pending'");
  BOOST_TEST(share > 0);
  BOOST_TEST(balance("pending") - before == share);
  // The whole payment goes back.
  BOOST_REQUIRE(eventually([&] {
    return count("SELECT COUNT(*) FROM refunds WHERE order_id = '" + lost
                 + "' AND status = 'processed' AND amount = 250000")
           == 1;
  }));
}

BOOST_AUTO_TEST_CASE(a_key_held_by_a_transaction_that_rolls_back_is_given) {
  // PostgreSQL only: a key locked by another transaction is first skipped;
  // with none left, the step waits for it rather than refund the buyer.
  if (st::backend_name() != "postgresql")
    return;
  BOOST_REQUIRE(add_keys({{"keys", {"LAST-KEY"}}}).status == 201u);
  BOOST_REQUIRE(
    as_creator("POST", "/api/v1/products/" + app + "/publish").status == 200u);
  auto a = checkout(app);
  std::promise<void> locked, release;
  auto release_now = release.get_future();
  auto holder = std::async(std::launch::async, [&] {
    return db->transact([&](soci::session& sql) -> souk::status {
      std::string id;
      sql << "SELECT id FROM licence_keys WHERE product_id = :p FOR UPDATE",
        soci::use(app), soci::into(id);
      locked.set_value();
      release_now.wait_for(5s);
      return souk::error{souk::errc::conflict, "rolled back"};
    });
  });
  locked.get_future().wait();
  BOOST_REQUIRE(press(a, "pay").status < 400);
  std::string id = a["order"]["id"];
  std::this_thread::sleep_for(1s); // the step is waiting for the lock now
  release.set_value();
  BOOST_TEST(holder.get().code == souk::errc::conflict);
  BOOST_REQUIRE(reaches(id, "delivered"));
  BOOST_TEST(order_keys(a)[0]["key"] == "LAST-KEY");
}

BOOST_AUTO_TEST_CASE(a_product_on_sale_moves_only_to_a_flow_it_can_deliver) {
  BOOST_REQUIRE(add_keys({{"keys", {"KEY-1"}}}).status == 201u);
  BOOST_REQUIRE(
    as_creator("POST", "/api/v1/products/" + app + "/publish").status == 200u);
  auto patch = [&](const std::string& id, const std::string& flow) {
    auto got = as_creator("GET", "/api/v1/products/" + id);
    BOOST_REQUIRE_EQUAL(got.status, 200u);
    return st::http_request(port, "PATCH", "/api/v1/products/" + id,
                            json{{"flow", flow}}.dump(),
                            {{"Authorization", "Bearer " + creator_token},
                             {"Content-Type", "application/json"},
                             {"If-Match", got.header("etag").value_or("")}});
  };
  // Keys but no file: not onto a flow that delivers files.
  auto to_files = patch(app, "digital_download");
  BOOST_TEST(to_files.status == 409u);
  BOOST_TEST(to_files.body.find("/files") != std::string::npos);
  BOOST_TEST(json::parse(to_files.body)["field"] == "flow");
  BOOST_TEST(count("SELECT COUNT(*) FROM products WHERE id = '" + app
                   + "' AND flow = 'licence_key'")
             == 1);
  // A file but no keys: not onto a flow that gives keys.
  auto book
    = as_creator("POST", "/api/v1/products",
                 json{{"title", "The Book"},
                      {"description", "Pages."},
                      {"price", {{"amount", 500000}, {"currency", "NGN"}}}}
                   .dump());
  BOOST_REQUIRE_MESSAGE(book.status == 201u, book.body);
  std::string book_id = json::parse(book.body)["id"];
  auto up = st::http_request(
    port, "PUT", "/api/v1/products/" + book_id + "/files?name=b.pdf", "%PDF",
    {{"Authorization", "Bearer " + creator_token},
     {"Content-Type", "application/pdf"}});
  BOOST_REQUIRE_MESSAGE(up.status == 201u, up.body);
  BOOST_REQUIRE(
    as_creator("POST", "/api/v1/products/" + book_id + "/publish").status
    == 200u);
  auto to_keys = patch(book_id, "licence_key");
  BOOST_TEST(to_keys.status == 409u);
  BOOST_TEST(to_keys.body.find("licence-keys") != std::string::npos);
  BOOST_TEST(json::parse(to_keys.body)["field"] == "flow");
  // With keys it may.
  BOOST_REQUIRE(as_creator("POST",
                           "/api/v1/products/" + book_id + "/licence-keys",
                           json{{"keys", {"BOOK-KEY"}}}.dump())
                  .status
                == 201u);
  BOOST_TEST(patch(book_id, "licence_key").status == 200u);
}

BOOST_AUTO_TEST_CASE(buyers_paying_at_once_never_share_a_key) {
  std::vector<std::string> list;
  for (int i = 0; i < 6; ++i)
    list.push_back(fmt::format("K-{}", i));
  BOOST_REQUIRE(add_keys({{"keys", list}}).status == 201u);
  BOOST_REQUIRE(
    as_creator("POST", "/api/v1/products/" + app + "/publish").status == 200u);
  std::vector<json> orders;
  for (int i = 0; i < 6; ++i)
    orders.push_back(checkout(app));
  std::vector<std::future<unsigned>> paying;
  for (auto& o : orders)
    paying.push_back(
      std::async(std::launch::async, [&] { return press(o, "pay").status; }));
  for (auto& p : paying)
    BOOST_REQUIRE(p.get() < 400);
  std::set<std::string> given;
  for (auto& o : orders) {
    BOOST_REQUIRE(reaches(o["order"]["id"], "delivered"));
    auto k = order_keys(o);
    BOOST_REQUIRE_EQUAL(k.size(), 1u);
    given.insert(k[0]["key"].get<std::string>());
  }
  BOOST_TEST(given.size() == 6u);
  BOOST_TEST(keys()["stock"][0]["left"] == 0);
  BOOST_TEST(keys()["stock"][0]["issued"] == 6);

  // Its creator heard once that the pool ran out, however many sales were
  // at once (the pool is looked at once each sale has committed, so the
  // last to commit sees it empty), on no buyer's order. "Running low" is
  // told only if some sale's look saw 1 to 5 keys left: a burst straight
  // to empty may skip it.
  auto stock_mails = [&](const std::string& kind) {
    return count("SELECT COUNT(*) FROM email_outbox e JOIN users u ON "
                 "u.email = e.recipient WHERE e.template = 'licence_stock' AND "
                 "e.order_id IS NULL AND u.id = '"
                 + creator_id + "' AND e.dedupe_key LIKE '%:" + kind + "'");
  };
  auto said = [&](const std::string& words) {
    int n = 0;
    for (auto& m : mails())
      if (souk::email::decode_quoted_printable(m).find(words)
          != std::string::npos)
        ++n;
    return n;
  };
  BOOST_REQUIRE(eventually([&] {
    return said("Subject: Sold out: The App has no licence key left") == 1;
  }));
  BOOST_TEST(stock_mails("out") == 1);
  BOOST_TEST(stock_mails("low") <= 1);
  // Restocked, it tells again: running low, then out, one sale at a time.
  BOOST_REQUIRE(add_keys({{"keys", {"K-6", "K-7"}}}).status == 201u);
  auto low_before = stock_mails("low");
  auto buy = [&] {
    auto o = checkout(app);
    BOOST_REQUIRE(press(o, "pay").status < 400);
    BOOST_REQUIRE(reaches(o["order"]["id"], "delivered"));
  };
  buy();
  BOOST_REQUIRE(eventually(
    [&] { return said("Subject: 1 licence key left for The App") == 1; }));
  BOOST_TEST(stock_mails("low") == low_before + 1);
  buy();
  BOOST_REQUIRE(eventually([&] {
    return said("Subject: Sold out: The App has no licence key left") == 2;
  }));
  BOOST_TEST(stock_mails("out") == 2);
  // Each says where to add keys.
  BOOST_TEST(said("/dashboard/products/" + app)
             == stock_mails("low") + stock_mails("out"));
}

// The shipped `download_with_key` flow gives a file and a key: its product
// is on sale only with both, and each buyer gets both, in one receipt.
BOOST_AUTO_TEST_CASE(a_product_giving_a_file_and_a_key_needs_and_gives_both) {
  auto made
    = as_creator("POST", "/api/v1/products",
                 json{{"title", "The Suite"},
                      {"description", "An installer and its key."},
                      {"price", {{"amount", 300000}, {"currency", "NGN"}}},
                      {"flow", "download_with_key"}}
                   .dump());
  BOOST_REQUIRE_MESSAGE(made.status == 201u, made.body);
  std::string id = json::parse(made.body)["id"];
  BOOST_TEST(json::parse(made.body)["sold_out"] == true);
  auto publish
    = [&] { return as_creator("POST", "/api/v1/products/" + id + "/publish"); };
  // A key and no file: not on sale.
  BOOST_REQUIRE(as_creator("POST", "/api/v1/products/" + id + "/licence-keys",
                           json{{"keys", {"SUITE-1"}}}.dump())
                  .status
                == 201u);
  auto no_file = publish();
  BOOST_TEST(no_file.status == 409u);
  BOOST_TEST(no_file.body.find("/files") != std::string::npos, no_file.body);
  // A file and a key: on sale.
  auto up = st::http_request(
    port, "PUT", "/api/v1/products/" + id + "/files?name=setup.exe", "MZ..",
    {{"Authorization", "Bearer " + creator_token},
     {"Content-Type", "application/octet-stream"}});
  BOOST_REQUIRE_MESSAGE(up.status == 201u, up.body);
  auto on_sale = publish();
  BOOST_REQUIRE_MESSAGE(on_sale.status == 200u, on_sale.body);

  auto a = checkout(id);
  BOOST_REQUIRE(press(a, "pay").status < 400);
  std::string a_id = a["order"]["id"];
  BOOST_REQUIRE(reaches(a_id, "delivered"));
  BOOST_TEST(order_keys(a)[0]["key"] == "SUITE-1");
  BOOST_TEST(count("SELECT COUNT(*) FROM download_grants WHERE order_id = '"
                   + a_id + "'")
             == 1);
  auto receipt = [&] {
    for (auto& m : mails()) {
      auto text = souk::email::decode_quoted_printable(m);
      if (text.find(a_id) != std::string::npos)
        return text;
    }
    return std::string{};
  };
  BOOST_REQUIRE(eventually([&] { return !receipt().empty(); }));
  auto text = receipt();
  BOOST_TEST(text.find("SUITE-1") != std::string::npos, text);
  BOOST_TEST(text.find("setup.exe") != std::string::npos, text);
  BOOST_TEST(text.find("/d/") != std::string::npos, text);
  // The one key is gone: sold out, though the file is still there.
  BOOST_TEST(public_sold_out(id));
  // A refund takes back both.
  auto refund = as_creator("POST", "/api/v1/orders/" + a_id + "/refund");
  BOOST_REQUIRE_MESSAGE(refund.status < 300, refund.body);
  BOOST_REQUIRE(reaches(a_id, "refunded"));
  BOOST_TEST(count("SELECT COUNT(*) FROM download_grants WHERE order_id = '"
                   + a_id + "' AND revoked_at IS NOT NULL")
             == 1);
  BOOST_TEST(!order_keys(a)[0].contains("key"));
}

BOOST_AUTO_TEST_SUITE_END()
