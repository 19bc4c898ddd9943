// Delivery end to end over real HTTP: a product on the shipped
// `digital_download` flow is bought through the sandbox gateway; the order
// reaches `delivered`; the receipt lands as an .eml file holding a link;
// the link returns the exact bytes uploaded; the download limit (with
// repeats and resumes from the same client not counted, and concurrent
// requests never over the limit), the expiry, fresh links, re-issue and
// revocation by refund are enforced; Range and If-Range follow RFC 9110.

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "souk/accounts/credentials.hpp"
#include "souk/core/hash.hpp"
#include "souk/core/time.hpp"
#include "souk/delivery/service.hpp"
#include "souk/email/message.hpp"
#include "souk/email/templates.hpp"
#include "souk/http/access.hpp"

#include "shop.hpp"
#include "smtp_server.hpp"

namespace st = souk::testing;
using st::json;
using namespace std::chrono_literals;

namespace {

std::string bytes_of(size_t n) {
  std::string out(n, '\0');
  uint32_t x = 2463534242u;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return out;
}

struct delivery_shop : st::shop {
  std::string file = bytes_of(600 * 1024 + 123); // more than two buffers
  std::string book;                              // digital_download product

  delivery_shop() {
    auto res
      = as_creator("POST", "/api/v1/products",
                   json{{"title", "The Book"},
                        {"description", "Pages."},
                        {"price", {{"amount", 500000}, {"currency", "NGN"}}},
                        {"flow", "digital_download"}}
                     .dump());
    BOOST_REQUIRE_MESSAGE(res.status == 201, res.body);
    book = json::parse(res.body)["id"];
    auto up = st::http_request(
      port, "PUT",
      "/api/v1/products/" + book + "/files?name=Th%C3%A9%20Book.bin", file,
      {{"Authorization", "Bearer " + creator_token},
       {"Content-Type", "application/octet-stream"}});
    BOOST_REQUIRE_MESSAGE(up.status == 201, up.body);
    auto pub = as_creator("POST", "/api/v1/products/" + book + "/publish");
    BOOST_REQUIRE_MESSAGE(pub.status == 200, pub.body);
  }

  /// Bought and paid; waits for `delivered`. Returns the order id.
  std::string buy() {
    auto order = checkout(book);
    auto paid = press(order, "pay");
    BOOST_REQUIRE_MESSAGE(paid.status < 400, paid.body);
    std::string id = order["order"]["id"];
    BOOST_REQUIRE(reaches(id, "delivered"));
    return id;
  }

  /// The .eml files written so far, oldest first.
  std::vector<std::string> mails() {
    return st::read_files(std::filesystem::path{cfg.data_dir} / "mail", ".eml");
  }

  /// Waits for the `n`th mail and returns the download path in it.
  std::string link_in_mail(size_t n, const std::string& must_contain = {}) {
    BOOST_REQUIRE(eventually([&] { return mails().size() >= n; }));
    auto text = souk::email::decode_quoted_printable(mails()[n - 1]);
    if (!must_contain.empty())
      BOOST_TEST(text.find(must_contain) != std::string::npos);
    std::smatch m;
    BOOST_REQUIRE(std::regex_search(
      text, m,
      std::regex{"http://127\\.0\\.0\\.1:[0-9]+(/d/[A-Za-z0-9_-]{43})"}));
    return m[1];
  }

  st::http_reply get(const std::string& path, const std::string& from,
                     std::vector<std::pair<std::string, std::string>> h = {},
                     const std::string& method = "GET") {
    return st::http_request(port, method, path, {}, std::move(h), from);
  }

  json downloads(const std::string& order) {
    auto res = as_creator("GET", "/api/v1/orders/" + order + "/downloads");
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    return json::parse(res.body)["items"][0];
  }
};

std::string code_of(const st::http_reply& r) {
  auto doc = json::parse(r.body, nullptr, false);
  return doc.is_object() ? doc.value("code", std::string{}) : std::string{};
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(delivery_e2e, delivery_shop)

BOOST_AUTO_TEST_CASE(bought_delivered_mailed_downloaded_limited_expired) {
  auto order = buy();
  auto link = link_in_mail(1, "The Book");
  // The exact bytes, with the headers a download needs.
  auto first = get(link, "127.0.0.2");
  BOOST_REQUIRE_EQUAL(first.status, 200u);
  BOOST_TEST(souk::sha256_hex(first.body) == souk::sha256_hex(file));
  BOOST_TEST(first.header("content-length").value_or("")
             == std::to_string(file.size()));
  BOOST_TEST(first.header("accept-ranges").value_or("") == "bytes");
  BOOST_TEST(first.header("etag").value_or("")
             == "\"" + souk::sha256_hex(file) + "\"");
  auto disposition = first.header("content-disposition").value_or("");
  // Saved, never shown on this origin, whatever type the creator gave.
  BOOST_TEST(disposition.starts_with("attachment;"));
  BOOST_TEST(first.header("content-security-policy").value_or("")
             == "default-src 'none'; sandbox");
  BOOST_TEST(first.header("x-content-type-options").value_or("") == "nosniff");
  BOOST_TEST(disposition.find("filename=\"Th__ Book.bin\"")
             != std::string::npos);
  BOOST_TEST(disposition.find("filename*=UTF-8''Th%C3%A9%20Book.bin")
             != std::string::npos);
  BOOST_TEST(first.header("cache-control").value_or("") == "private, no-store");
  // The order's timeline and its email are there to prove delivery.
  BOOST_TEST(ever_in(order, "delivered"));
  BOOST_TEST(count("SELECT COUNT(*) FROM email_outbox WHERE order_id = '"
                   + order + "' AND status = 'sent'")
             == 1);

  // The same client again at once is the same download (a double click).
  BOOST_TEST(get(link, "127.0.0.2").status == 200u);
  BOOST_TEST(downloads(order)["downloads"] == 1);
  // Four more clients use the five downloads up; a sixth is refused.
  for (auto from : {"127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"})
    BOOST_TEST(get(link, from).status == 200u);
  auto refused = get(link, "127.0.0.7");
  BOOST_TEST(refused.status == 410u);
  BOOST_TEST(code_of(refused) == "link_used_up");
  auto d = downloads(order);
  BOOST_TEST(d["downloads"] == 5);
  BOOST_TEST(d["status"] == "used_up");
  // A browser gets a page saying what happened and what to do.
  auto page = get(link, "127.0.0.7", {{"Accept", "text/html"}});
  BOOST_TEST(page.status == 410u);
  BOOST_TEST(page.body.find("re-issue") != std::string::npos);

  // Expired: 410 link_expired, even for a client that had downloads left.
  BOOST_REQUIRE_EQUAL(
    count("SELECT COUNT(*) FROM download_grants WHERE order_id = '" + order
          + "'"),
    1);
  auto st2 = db->run([&](soci::session& sql) {
    sql
      << "UPDATE download_grants SET expires_at = '2020-01-01T00:00:00.000Z', "
         "downloads = 1 WHERE order_id = :o",
      soci::use(order);
  });
  BOOST_REQUIRE(!st2);
  auto expired = get(link, "127.0.0.8");
  BOOST_TEST(expired.status == 410u);
  BOOST_TEST(code_of(expired) == "link_expired");

  // A guest asks for a fresh link with the order's email: it comes by
  // email (never in the answer), renews the expiry, replaces the old link.
  auto wrong
    = st::http_request(port, "POST", "/api/v1/orders/" + order + "/downloads",
                       json{{"email", "someone@example.com"}}.dump(),
                       {{"Content-Type", "application/json"}});
  BOOST_TEST(wrong.status == 404u);
  auto asked
    = st::http_request(port, "POST", "/api/v1/orders/" + order + "/downloads",
                       json{{"email", "Buyer@Example.com"}}.dump(),
                       {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(asked.status == 202u, asked.body);
  BOOST_TEST(asked.body.find("/d/") == std::string::npos);
  auto fresh = link_in_mail(2, "fresh download links");
  BOOST_TEST(fresh != link);
  auto old = get(link, "127.0.0.9");
  BOOST_TEST(old.status == 410u);
  BOOST_TEST(code_of(old) == "link_replaced");
  auto again = get(fresh, "127.0.0.9");
  BOOST_REQUIRE_EQUAL(again.status, 200u);
  BOOST_TEST(souk::sha256_hex(again.body) == souk::sha256_hex(file));
  BOOST_TEST(downloads(order)["downloads"] == 2);

  // The creator re-issues with the count reset; the buyer is mailed.
  auto reissued = as_creator("POST", "/api/v1/orders/" + order + "/downloads",
                             json{{"reset_downloads", true}}.dump());
  BOOST_REQUIRE_MESSAGE(reissued.status == 202u, reissued.body);
  auto third = link_in_mail(3);
  BOOST_TEST(downloads(order)["downloads"] == 0);
  BOOST_TEST(get(third, "127.0.0.10").status == 200u);

  // The receipt can be sent again (with fresh links in it).
  auto resent = as_creator("POST", "/api/v1/orders/" + order + "/receipt");
  BOOST_REQUIRE_MESSAGE(resent.status == 202u, resent.body);
  auto fourth = link_in_mail(4, "Your receipt");
  BOOST_TEST(get(fourth, "127.0.0.11").status == 200u);

  // A refund takes access back at once.
  auto refund = as_creator("POST", "/api/v1/orders/" + order + "/refund");
  BOOST_REQUIRE_MESSAGE(refund.status < 300, refund.body);
  BOOST_REQUIRE(
    eventually([&] { return get(fourth, "127.0.0.12").status == 410u; }));
  BOOST_TEST(code_of(get(fourth, "127.0.0.12")) == "link_revoked");
  BOOST_TEST(downloads(order)["status"] == "revoked");
  auto after
    = st::http_request(port, "POST", "/api/v1/orders/" + order + "/downloads",
                       json{{"email", "buyer@example.com"}}.dump(),
                       {{"Content-Type", "application/json"}});
  BOOST_TEST(after.status == 410u);
  // Unknown tokens are 404.
  BOOST_TEST(get("/d/" + std::string(43, 'A'), "127.0.0.2").status == 404u);
  BOOST_TEST(get("/d/short", "127.0.0.2").status == 404u);
}

BOOST_AUTO_TEST_CASE(ranges_follow_rfc_9110_and_resumes_count_once) {
  auto order = buy();
  auto link = link_in_mail(1);
  auto size = file.size();
  auto range = [&](const std::string& spec,
                   std::vector<std::pair<std::string, std::string>> h = {}) {
    h.emplace_back("Range", spec);
    return get(link, "127.0.0.20", std::move(h));
  };
  // First bytes: this counts as the download.
  auto head = range("bytes=0-99");
  BOOST_REQUIRE_EQUAL(head.status, 206u);
  BOOST_TEST(head.body == file.substr(0, 100));
  BOOST_TEST(head.header("content-range").value_or("")
             == "bytes 0-99/" + std::to_string(size));
  BOOST_TEST(head.header("content-length").value_or("") == "100");
  // The middle, across the server's buffer boundary.
  auto mid = range("bytes=262000-263999");
  BOOST_REQUIRE_EQUAL(mid.status, 206u);
  BOOST_TEST(mid.body == file.substr(262000, 2000));
  // A suffix.
  auto tail = range("bytes=-500");
  BOOST_REQUIRE_EQUAL(tail.status, 206u);
  BOOST_TEST(tail.body == file.substr(size - 500));
  // Resuming to the end.
  auto rest = range("bytes=100-");
  BOOST_REQUIRE_EQUAL(rest.status, 206u);
  BOOST_TEST(head.body + rest.body == file);
  // Invalid: ignored, the whole file.
  auto invalid = range("bytes=abc");
  BOOST_TEST(invalid.status == 200u);
  BOOST_TEST(invalid.body.size() == size);
  // Unsatisfiable: 416 with the size.
  auto beyond = range("bytes=" + std::to_string(size) + "-");
  BOOST_TEST(beyond.status == 416u);
  BOOST_TEST(beyond.header("content-range").value_or("")
             == "bytes */" + std::to_string(size));
  // Several: multipart/byteranges with each part and its Content-Range.
  auto multi = range("bytes=0-9,20-29,-5");
  BOOST_REQUIRE_EQUAL(multi.status, 206u);
  auto type = multi.header("content-type").value_or("");
  BOOST_REQUIRE(type.starts_with("multipart/byteranges; boundary="));
  auto boundary = type.substr(type.find('=') + 1);
  BOOST_TEST(multi.header("content-length").value_or("")
             == std::to_string(multi.body.size()));
  for (auto [first, last] :
       {std::pair<size_t, size_t>{0, 9}, {20, 29}, {size - 5, size - 1}}) {
    auto part_head
      = fmt::format("Content-Range: bytes {}-{}/{}\r\n\r\n", first, last, size);
    auto at = multi.body.find(part_head);
    BOOST_REQUIRE(at != std::string::npos);
    BOOST_TEST(multi.body.substr(at + part_head.size(), last - first + 1)
               == file.substr(first, last - first + 1));
  }
  BOOST_TEST(multi.body.ends_with("\r\n--" + boundary + "--\r\n"));
  // If-Range: the current ETag lets the range through, another does not.
  auto etag = "\"" + souk::sha256_hex(file) + "\"";
  BOOST_TEST(range("bytes=0-9", {{"If-Range", etag}}).status == 206u);
  auto stale = range("bytes=0-9", {{"If-Range", "\"old\""}});
  BOOST_TEST(stale.status == 200u);
  BOOST_TEST(stale.body.size() == size);
  // HEAD says what GET would send and counts nothing.
  st::raw_client c{port, "127.0.0.21"};
  c.send("HEAD " + link + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto h = c.read_all(5s);
  BOOST_TEST(h.starts_with("HTTP/1.1 200"));
  BOOST_TEST(h.find("Content-Length: " + std::to_string(size) + "\r\n")
             != std::string::npos);
  BOOST_TEST(h.ends_with("\r\n\r\n")); // no body
  // All of that from one client was one download.
  BOOST_TEST(downloads(order)["downloads"] == 1);
  // A resume from another client is a new download.
  auto resumed = get(link, "127.0.0.22", {{"Range", "bytes=100-"}});
  BOOST_TEST(resumed.status == 206u);
  BOOST_TEST(downloads(order)["downloads"] == 2);
  // A Range beyond the end from yet another client is 416 and takes none
  // of the buyer's downloads; the same with an If-Range that holds.
  auto past = "bytes=" + std::to_string(size) + "-";
  BOOST_TEST(get(link, "127.0.0.23", {{"Range", past}}).status == 416u);
  BOOST_TEST(
    get(link, "127.0.0.24", {{"Range", past}, {"If-Range", etag}}).status
    == 416u);
  BOOST_TEST(downloads(order)["downloads"] == 2);
  // With an If-Range that no longer holds the whole file is sent: counted.
  auto whole
    = get(link, "127.0.0.25", {{"Range", past}, {"If-Range", "\"old\""}});
  BOOST_TEST(whole.status == 200u);
  BOOST_TEST(downloads(order)["downloads"] == 3);
}

BOOST_AUTO_TEST_CASE(concurrent_downloads_never_pass_the_limit) {
  auto order = buy();
  auto link = link_in_mail(1);
  std::vector<unsigned> statuses(12);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < statuses.size(); ++i)
    threads.emplace_back([&, i] {
      statuses[i] = get(link, "127.0.1." + std::to_string(i + 1)).status;
    });
  for (auto& t : threads)
    t.join();
  auto ok = std::count(statuses.begin(), statuses.end(), 200u);
  auto gone = std::count(statuses.begin(), statuses.end(), 410u);
  BOOST_TEST(ok == 5);
  BOOST_TEST(gone == 7);
  BOOST_TEST(downloads(order)["downloads"] == 5);
}

BOOST_AUTO_TEST_CASE(a_signed_in_buyer_gets_fresh_links_in_the_answer) {
  auto email = "reader" + souk::random_hex(3) + "@example.com";
  auto signup = st::http_request(
    port, "POST", "/api/v1/auth/signup",
    json{{"email", email}, {"password", st::op_password}, {"role", "customer"}}
      .dump(),
    {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(signup.status == 201, signup.body);
  auto login = st::http_request(
    port, "POST", "/api/v1/auth/login",
    json{{"email", email}, {"password", st::op_password}}.dump(),
    {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_MESSAGE(login.status == 200, login.body);
  std::string bearer
    = "Bearer " + json::parse(login.body)["token"].get<std::string>();
  auto res = st::http_request(port, "POST", "/api/v1/orders",
                              json{{"product_id", book}}.dump(),
                              {{"Content-Type", "application/json"},
                               {"Idempotency-Key", souk::new_uuid()},
                               {"Authorization", bearer}});
  BOOST_REQUIRE_MESSAGE(res.status == 201, res.body);
  auto order = json::parse(res.body);
  BOOST_REQUIRE(press(order, "pay").status < 400);
  std::string id = order["order"]["id"];
  BOOST_REQUIRE(reaches(id, "delivered"));
  auto mailed = link_in_mail(1);
  // The buyer's own list, and fresh links in the answer (no email).
  auto list
    = st::http_request(port, "GET", "/api/v1/orders/" + id + "/downloads", {},
                       {{"Authorization", bearer}});
  BOOST_REQUIRE_MESSAGE(list.status == 200, list.body);
  auto item = json::parse(list.body)["items"][0];
  BOOST_TEST(item["remaining"] == 5);
  BOOST_TEST(item["size"] == file.size());
  auto fresh
    = st::http_request(port, "POST", "/api/v1/orders/" + id + "/downloads", {},
                       {{"Authorization", bearer}});
  BOOST_REQUIRE_MESSAGE(fresh.status == 201, fresh.body);
  std::string url = json::parse(fresh.body)["items"][0]["url"];
  auto path = url.substr(url.find("/d/"));
  auto got = get(path, "127.0.0.40");
  BOOST_REQUIRE_EQUAL(got.status, 200u);
  BOOST_TEST(souk::sha256_hex(got.body) == souk::sha256_hex(file));
  BOOST_TEST(code_of(get(mailed, "127.0.0.40")) == "link_replaced");
  BOOST_TEST(mails().size() == 1u); // nothing emailed
  // A buyer cannot reset their own count; the limit per hour holds.
  auto reset = st::http_request(
    port, "POST", "/api/v1/orders/" + id + "/downloads",
    json{{"reset_downloads", true}}.dump(),
    {{"Authorization", bearer}, {"Content-Type", "application/json"}});
  BOOST_TEST(reset.status == 403u);
  // Five sets an hour: the receipt's, the one above, three more; then 429
  // naming the count.
  std::vector<unsigned> statuses;
  std::string refused;
  for (int i = 0; i < 5; ++i) {
    auto r
      = st::http_request(port, "POST", "/api/v1/orders/" + id + "/downloads",
                         {}, {{"Authorization", bearer}});
    statuses.push_back(r.status);
    if (r.status == 429)
      refused = r.body;
  }
  BOOST_TEST((statuses == std::vector<unsigned>{201, 201, 201, 429, 429}));
  BOOST_TEST(refused.find("sent 5 times in the last hour") != std::string::npos,
             refused);
  // The order page's download button is refused the same way, and its page
  // says so with the same status; a forged form is 403.
  std::string token = json::parse(login.body)["token"];
  auto press_download = [&](const std::string& csrf) {
    return st::http_request(
      port, "POST", "/orders/" + id + "/download",
      "grant_id=" + item.value("grant_id", "g") + "&_csrf=" + csrf,
      {{"Cookie", std::string{souk::http::session_cookie} + "=" + token},
       {"Content-Type", "application/x-www-form-urlencoded"}});
  };
  auto limited = press_download(souk::accounts::csrf_token_for(token));
  BOOST_TEST(limited.status == 429u);
  BOOST_TEST(
    limited.header("content-type").value_or("").starts_with("text/html"));
  BOOST_TEST(limited.body.find("many times in the last hour")
               != std::string::npos,
             limited.body);
  auto forged = press_download("forged-forged-forged-forged");
  BOOST_TEST(forged.status == 403u);
  BOOST_TEST(forged.body.find("could not be accepted") != std::string::npos);
  // The product's creator sees them too.
  BOOST_TEST(as_creator("GET", "/api/v1/orders/" + id + "/downloads").status
             == 200u);
}

// A file the product gains after a sale is granted to its earlier buyers
// on the same terms the next time their downloads are listed or linked, and
// only once.
BOOST_AUTO_TEST_CASE(a_file_added_after_the_sale_is_granted_on_the_next_read) {
  auto id = buy();
  auto list = [&] {
    auto res = as_creator("GET", "/api/v1/orders/" + id + "/downloads");
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.body);
    return json::parse(res.body)["items"];
  };
  BOOST_REQUIRE_EQUAL(list().size(), 1u);
  auto up = st::http_request(
    port, "PUT", "/api/v1/products/" + book + "/files?name=Extra.bin",
    bytes_of(1000),
    {{"Authorization", "Bearer " + creator_token},
     {"Content-Type", "application/octet-stream"}});
  BOOST_REQUIRE_MESSAGE(up.status == 201, up.body);
  auto items = list();
  BOOST_REQUIRE_EQUAL(items.size(), 2u);
  BOOST_TEST(items[0]["name"] == "Extra.bin");
  BOOST_TEST(items[0]["size"] == 1000);
  BOOST_TEST(items[0]["max_downloads"] == items[1]["max_downloads"]);
  BOOST_TEST(items[0]["remaining"] == items[0]["max_downloads"]);
  BOOST_TEST(list().size() == 2u);
  long long grants = -1;
  auto st = db->run([&](soci::session& sql) {
    sql << "SELECT COUNT(*) FROM download_grants WHERE order_id = :o",
      soci::use(id), soci::into(grants);
  });
  BOOST_REQUIRE(!st);
  BOOST_TEST(grants == 2);
}

BOOST_AUTO_TEST_CASE(steps_run_again_write_nothing_and_bad_steps_nothing) {
  auto order = buy();
  auto earlier = link_in_mail(1);
  souk::delivery::service svc{db,
                              std::make_shared<const souk::email::templates>(
                                souk::email::templates::load().value()),
                              souk::delivery::options{}};
  auto rows = [&] {
    return std::to_string(count("SELECT COUNT(*) FROM download_grants WHERE "
                                "order_id = '"
                                + order + "'"))
           + "/"
           + std::to_string(count(
             "SELECT COUNT(*) FROM download_links l JOIN download_grants g ON "
             "g.id = l.grant_id WHERE g.order_id = '"
             + order + "'"))
           + "/"
           + std::to_string(
             count("SELECT COUNT(*) FROM email_outbox WHERE order_id = '"
                   + order + "'"));
  };
  BOOST_TEST(rows() == "1/1/1");
  // A grant step run again (its node died before recording it) keeps the
  // grant as it is.
  auto again = svc.run_action("delivery.grant_access", order,
                              R"({"max_downloads": 3})", "grant-again");
  BOOST_REQUIRE_MESSAGE(!again, again.detail);
  BOOST_TEST(rows() == "1/1/1");
  BOOST_TEST(downloads(order)["max_downloads"] == 5);
  // An email step run twice with its key: one email, one set of links.
  for (int i = 0; i < 2; ++i) {
    auto sent = svc.run_action("email.send", order,
                               R"({"template": "receipt"})", "receipt-again");
    BOOST_REQUIRE_MESSAGE(!sent, sent.detail);
  }
  BOOST_TEST(rows() == "1/2/2");
  // A flow's email adds its links and breaks none: the buyer may have asked
  // for links on the order page the moment it said delivered, just before
  // the receipt step ran.
  BOOST_TEST(get(earlier, "127.0.0.50").status == 200u);
  std::smatch added;
  BOOST_REQUIRE(eventually([&] { return mails().size() >= 2; }));
  auto second = souk::email::decode_quoted_printable(mails().at(1));
  BOOST_REQUIRE(
    std::regex_search(second, added, std::regex{"(/d/[A-Za-z0-9_-]{43})"}));
  BOOST_TEST(get(added[1], "127.0.0.50").status == 200u);
  // Bad steps are refused as invalid (their flow gives up) and write
  // nothing.
  for (auto [action, params, field] :
       {std::tuple{"delivery.grant_access", R"({"max_downloads": 0})",
                   "max_downloads"},
        std::tuple{"delivery.grant_access", R"({"expires_in": "soon"})",
                   "expires_in"},
        std::tuple{"email.send", R"({"template": "no_such"})", "template"},
        std::tuple{"email.send", R"({})", "template"},
        std::tuple{"delivery.nothing", R"({})", ""}}) {
    auto err = svc.run_action(action, order, params, "bad");
    BOOST_TEST_INFO(action << " " << params);
    BOOST_TEST(err.code == souk::errc::invalid_field);
    BOOST_TEST(err.field == field);
  }
  BOOST_TEST(rows() == "1/2/2");
}

BOOST_AUTO_TEST_CASE(a_hanging_smtp_server_does_not_hold_up_receipts) {
  // A server that takes connections and never says a word: each send
  // hangs until the SMTP timeout.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor silent{
    ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  auto silent_port = silent.local_endpoint().port();
  restart([&](souk::config::settings& c) {
    c.email.transport = "smtp";
    c.email.smtp_url = "smtp://127.0.0.1:" + std::to_string(silent_port);
    c.email.smtp_tls = "off";
    c.email.smtp_timeout = 10s;
  });
  auto emails_of = [&](const std::string& order) {
    return count("SELECT COUNT(*) FROM email_outbox WHERE order_id = '" + order
                 + "'");
  };
  auto first = buy();
  BOOST_REQUIRE(eventually([&] { return emails_of(first) == 1; }));
  // The first receipt's send now hangs; the second is still queued at
  // once (its step only writes the outbox).
  auto second = buy();
  BOOST_TEST(eventually([&] { return emails_of(second) == 1; }, 4s));
  BOOST_TEST(count("SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'")
             == 0);
}

BOOST_AUTO_TEST_CASE(receipts_go_out_over_several_smtp_connections_at_once) {
  // The server holds each message until two are in DATA at once (or 3 s
  // pass) and writes down how many were: one sender at a time can never
  // show two, so the count proves the sends overlapped.
  auto together = [](const souk::testing::smtp_server& srv) {
    std::vector<int> out;
    for (auto& env : srv.envelopes()) {
      auto at = env.find("together ");
      BOOST_REQUIRE(at != std::string::npos);
      out.push_back(std::stoi(env.substr(at + 9)));
    }
    return out;
  };
  auto receipts_of
    = [&](uint32_t senders, const souk::testing::smtp_server& srv) {
        restart([&](souk::config::settings& c) {
          c.email.transport = "smtp";
          c.email.smtp_url = srv.url();
          c.email.smtp_tls = "off";
          c.email.senders = senders;
        });
        auto first = buy();
        // The first receipt is claimed (and held by the server) before the
        // second is queued, so one round never takes both.
        BOOST_REQUIRE(eventually([&] {
          return count("SELECT COUNT(*) FROM email_outbox WHERE order_id = '"
                       + first + "' AND claimed_until IS NOT NULL")
                 == 1;
        }));
        buy();
        BOOST_REQUIRE(eventually([&] { return srv.messages().size() == 2; }));
        return together(srv);
      };
  souk::testing::smtp_server one_at_a_time{
    {"--gather", "2", "--gather-timeout", "3"}};
  BOOST_TEST(receipts_of(1, one_at_a_time) == (std::vector<int>{1, 1}),
             boost::test_tools::per_element());
  souk::testing::smtp_server several{
    {"--gather", "2", "--gather-timeout", "3"}};
  BOOST_TEST(receipts_of(2, several) == (std::vector<int>{2, 2}),
             boost::test_tools::per_element());
  BOOST_TEST(eventually([&] {
    return count("SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'")
           == 4;
  }));
}

BOOST_AUTO_TEST_CASE(a_paid_order_with_no_file_to_give_is_refunded) {
  // The product's only file gone behind souk's back (its API keeps a
  // published product's last file): a grant of nothing must not pass for
  // a delivery; the buyer gets the money back.
  auto order = checkout(book);
  std::string id = order["order"]["id"];
  auto gone = db->run([&](soci::session& sql) {
    sql << "DELETE FROM product_files WHERE product_id = :p", soci::use(book);
  });
  BOOST_REQUIRE(!gone);
  BOOST_REQUIRE(press(order, "pay").status < 400);
  BOOST_REQUIRE(reaches(id, "refunded"));
  BOOST_TEST(!ever_in(id, "delivered"));
  BOOST_TEST(count("SELECT COUNT(*) FROM order_events WHERE order_id = '" + id
                   + "' AND event = 'steps.failed' AND detail LIKE "
                     "'%no file to give%'")
             == 1);
  BOOST_TEST(
    count("SELECT COUNT(*) FROM download_grants WHERE order_id = '" + id + "'")
    == 0);
  // The whole payment back, and the creator's share with it.
  BOOST_TEST(count("SELECT COUNT(*) FROM refunds WHERE order_id = '" + id
                   + "' AND status = 'processed' AND amount = 500000")
             == 1);
  BOOST_TEST(count("SELECT COUNT(DISTINCT posting_id) FROM ledger_entries "
                   "WHERE cause_kind = 'sale' AND cause_id = '"
                   + id + "'")
             == 1);
  BOOST_TEST(balance("pending") == 0);
}

// A stored file that cannot be read (a lost disk, a restore without the
// files) is a 503 the buyer can retry, and does not use up a download.
BOOST_AUTO_TEST_CASE(an_unreadable_file_does_not_use_up_a_download) {
  auto order = buy();
  auto link = link_in_mail(1);
  std::string key;
  auto st = db->run([&](soci::session& sql) {
    sql << "SELECT storage_key FROM product_files WHERE product_id = :p",
      soci::use(book), soci::into(key);
  });
  BOOST_REQUIRE(!st);
  auto blob = std::filesystem::path{cfg.data_dir} / "files" / "blobs" / key;
  auto aside = blob;
  aside += ".aside";
  std::filesystem::rename(blob, aside);
  auto lost = get(link, "127.0.0.31");
  BOOST_TEST(lost.status == 503u);
  BOOST_TEST(code_of(lost) == "unavailable");
  BOOST_TEST(lost.header("retry-after").has_value());
  BOOST_TEST(downloads(order)["downloads"] == 0);
  std::filesystem::rename(aside, blob);
  auto back = get(link, "127.0.0.31");
  BOOST_TEST(back.status == 200u);
  BOOST_TEST(back.body == file);
  BOOST_TEST(downloads(order)["downloads"] == 1);
}

BOOST_AUTO_TEST_CASE(a_front_web_server_can_send_the_file) {
  auto order = buy();
  auto link = link_in_mail(1);
  restart([](souk::config::settings& c) {
    c.delivery.accel_redirect = "/protected/";
  });
  auto res = get(link, "127.0.0.30");
  BOOST_REQUIRE_EQUAL(res.status, 200u);
  BOOST_TEST(res.body.empty());
  auto target = res.header("x-accel-redirect").value_or("");
  BOOST_TEST(target.starts_with("/protected/"));
  // The store's key of the file, nothing of the buyer's input.
  BOOST_TEST(std::filesystem::exists(std::filesystem::path{cfg.data_dir}
                                     / "files" / "blobs" / target.substr(11)));
  BOOST_TEST(res.header("content-disposition").has_value());
  BOOST_TEST(downloads(order)["downloads"] == 1); // souk still counts
}

BOOST_AUTO_TEST_SUITE_END()
