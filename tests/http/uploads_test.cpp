// PUT /api/v1/products/{id}/files over real HTTP, on SQLite and PostgreSQL.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "souk/core/hash.hpp"

#include "app.hpp"

using namespace std::chrono_literals;
namespace st = souk::testing;
using nlohmann::json;
using souk::testing::app;

namespace {

// Regular files under `dir` (recursively), e.g. blobs or temporary parts.
size_t files_under(const std::filesystem::path& dir) {
  size_t n = 0;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec))
    return 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    n += e.is_regular_file();
  return n;
}

struct fixture {
  app a{app::cheap(), 100000, 100000, 64 * 1024};
  std::string creator = a.new_user("creator");
  std::string token = a.login(creator);
  std::string product = a.make_product(creator);

  st::http_reply put(const std::string& name, const std::string& body,
                     const std::string& as = {}) {
    return st::http_request(
      a.port, "PUT", "/api/v1/products/" + product + "/files?name=" + name,
      body,
      {{"Authorization", "Bearer " + (as.empty() ? token : as)},
       {"Content-Type", "application/pdf"}});
  }

  int rows() {
    int n = -1;
    a.db->run([&](soci::session& sql) {
      sql << "SELECT count(*) FROM product_files", soci::into(n);
    });
    return n;
  }

  size_t blobs() { return files_under(a.files.path() / "blobs"); }
  size_t parts() { return files_under(a.files.path() / "tmp"); }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(uploads, fixture)

BOOST_AUTO_TEST_CASE(a_file_is_stored_with_size_and_sha256) {
  std::string content(50'000, 'x');
  content += "the end";
  auto res = put("book.pdf", content);
  BOOST_REQUIRE_MESSAGE(res.status == 201u, res.body);
  auto doc = json::parse(res.body);
  BOOST_TEST(doc["name"] == "book.pdf");
  BOOST_TEST(doc["size"] == content.size());
  BOOST_TEST(doc["sha256"] == souk::sha256_hex(content));
  BOOST_TEST(doc["content_type"] == "application/pdf");
  BOOST_TEST(rows() == 1);
  BOOST_TEST(blobs() == 1u);
  BOOST_TEST(parts() == 0u);
  // The stored bytes are the uploaded bytes, under a generated key.
  std::string key;
  a.db->run([&](soci::session& sql) {
    sql << "SELECT storage_key FROM product_files", soci::into(key);
  });
  BOOST_TEST(key.find("book") == std::string::npos);
  std::ifstream in{a.files.path() / "blobs" / key, std::ios::binary};
  std::string stored{std::istreambuf_iterator<char>{in},
                     std::istreambuf_iterator<char>{}};
  BOOST_TEST((stored == content));
}

BOOST_AUTO_TEST_CASE(replacing_a_file_keeps_its_id_and_drops_the_old_bytes) {
  auto first = put("book.pdf", "first edition");
  BOOST_REQUIRE_EQUAL(first.status, 201u);
  auto second = put("book.pdf", "second edition, revised");
  BOOST_REQUIRE_EQUAL(second.status, 200u);
  auto a1 = json::parse(first.body);
  auto a2 = json::parse(second.body);
  BOOST_TEST(a1["id"] == a2["id"]); // links to the file now serve the new one
  BOOST_TEST(a2["sha256"] == souk::sha256_hex("second edition, revised"));
  BOOST_TEST(rows() == 1);
  BOOST_TEST(blobs() == 1u);
  // Another name is another file.
  BOOST_TEST(put("extras.zip", "zip").status == 201u);
  BOOST_TEST(rows() == 2);
}

// A wrong upload taken off before anyone bought it: row and bytes go, and
// the product's version moves. A file a buyer was granted stays.
BOOST_AUTO_TEST_CASE(a_file_nobody_bought_is_taken_off_one_bought_stays) {
  auto up = put("wrong.pdf", "not this one");
  BOOST_REQUIRE_EQUAL(up.status, 201u);
  std::string file = json::parse(up.body)["id"];
  auto version = [&] {
    int v = -1;
    a.db->run([&](soci::session& sql) {
      sql << "SELECT version FROM products WHERE id = :p", soci::use(product),
        soci::into(v);
    });
    return v;
  };
  auto before = version();
  auto del = [&](const std::string& f, const std::string& as = {}) {
    return st::http_request(
      a.port, "DELETE", "/api/v1/products/" + product + "/files/" + f, {},
      {{"Authorization", "Bearer " + (as.empty() ? token : as)}});
  };
  auto other = a.login(a.new_user("creator"));
  BOOST_TEST(del(file, other).status == 404u); // not theirs to see
  BOOST_TEST(rows() == 1);
  auto gone = del(file);
  BOOST_TEST(gone.status == 204u);
  BOOST_TEST(rows() == 0);
  BOOST_TEST(blobs() == 0u);
  BOOST_TEST(version() == before + 1);
  auto again = del(file);
  BOOST_TEST(again.status == 404u);
  BOOST_TEST(json::parse(again.body)["code"] == "not_found");

  // Bought: a grant names it.
  auto kept = put("book.pdf", "the real one");
  BOOST_REQUIRE_EQUAL(kept.status, 201u);
  std::string sold = json::parse(kept.body)["id"];
  auto t = std::string{"2026-01-01T00:00:00.000Z"};
  auto st = a.db->run([&](soci::session& sql) {
    sql << "INSERT INTO orders (id, product_id, buyer_email, amount, "
           "currency, flow, flow_version, flow_hash, state, version, "
           "step_index, step_attempt, state_entered_at, created_at, "
           "updated_at) VALUES ('o', :p, 'b@example.com', 5000, 'NGN', "
           "'digital_download', 1, 'h', 'delivered', 3, 0, 0, :t1, :t2, :t3)",
      soci::use(product), soci::use(t), soci::use(t), soci::use(t);
    sql << "INSERT INTO download_grants (id, order_id, product_id, file_id, "
           "max_downloads, lifetime_ms, expires_at, created_at, updated_at) "
           "VALUES ('g', 'o', :p, :f, 5, 1000, :t1, :t2, :t3)",
      soci::use(product), soci::use(sold), soci::use(t), soci::use(t),
      soci::use(t);
  });
  BOOST_REQUIRE_MESSAGE(!st, st.detail);
  auto refused = del(sold);
  BOOST_TEST(refused.status == 409u);
  BOOST_TEST(
    json::parse(refused.body)["detail"].get<std::string>().find("same name")
    != std::string::npos);
  BOOST_TEST(rows() == 1);
  BOOST_TEST(blobs() == 1u);
}

// A published product keeps at least one file; an archived one keeps all;
// a file of another product is not this one's to remove.
BOOST_AUTO_TEST_CASE(a_published_product_keeps_a_file_an_archived_one_all) {
  auto del = [&](const std::string& p, const std::string& f) {
    return st::http_request(a.port, "DELETE",
                            "/api/v1/products/" + p + "/files/" + f, {},
                            {{"Authorization", "Bearer " + token}});
  };
  auto set_status = [&](const std::string& s) {
    auto err = a.db->run([&](soci::session& sql) {
      sql << "UPDATE products SET status = :s WHERE id = :p", soci::use(s),
        soci::use(product);
    });
    BOOST_REQUIRE_MESSAGE(!err, err.detail);
  };
  auto first = put("book.pdf", "the book");
  BOOST_REQUIRE_EQUAL(first.status, 201u);
  std::string book = json::parse(first.body)["id"];
  set_status("published");
  auto last = del(product, book);
  BOOST_TEST(last.status == 409u);
  BOOST_TEST(json::parse(last.body)["detail"].get<std::string>().find(
               "at least one file")
             != std::string::npos);
  BOOST_TEST(rows() == 1);
  auto extra = put("extras.zip", "zip");
  BOOST_REQUIRE_EQUAL(extra.status, 201u);
  BOOST_TEST(del(product, book).status == 204u); // another one stays
  std::string zip = json::parse(extra.body)["id"];
  auto elsewhere = a.make_product(creator);
  BOOST_TEST(del(elsewhere, zip).status == 404u);
  set_status("archived");
  auto archived = del(product, zip);
  BOOST_TEST(archived.status == 409u);
  BOOST_TEST(
    json::parse(archived.body)["detail"].get<std::string>().find("archived")
    != std::string::npos);
  BOOST_TEST(rows() == 1);
  BOOST_TEST(blobs() == 1u);
}

BOOST_AUTO_TEST_CASE(uploads_may_exceed_the_ordinary_body_limit) {
  // http.body_limit (1 MiB by default) bounds buffered bodies only; a file
  // route has storage.max_upload. (Beast checks Content-Length while reading
  // the header, before the route is known.)
  app big{app::cheap(), 100000, 100000, 4 << 20};
  auto owner = big.new_user("creator");
  auto id = big.make_product(owner);
  std::string content(3 << 20, 'q');
  auto res = st::http_request(
    big.port, "PUT", "/api/v1/products/" + id + "/files?name=big.bin", content,
    {{"Authorization", "Bearer " + big.login(owner)}});
  BOOST_TEST(res.status == 201u);
  BOOST_TEST(json::parse(res.body)["size"] == content.size());
  // Ordinary routes keep their 1 MiB limit.
  auto json_body = R"({"email":")" + std::string(2 << 20, 'a') + R"("})";
  auto small
    = st::http_request(big.port, "POST", "/api/v1/auth/login", json_body,
                       {{"Content-Type", "application/json"}});
  BOOST_TEST(small.status == 413u);
}

BOOST_AUTO_TEST_CASE(too_large_is_refused_and_leaves_nothing) {
  // Announced too large: refused before reading.
  auto res = put("big.bin", std::string(70 * 1024, 'b'));
  BOOST_TEST(res.status == 413u);
  BOOST_TEST(json::parse(res.body)["code"] == "payload_too_large");
  // Chunked, so only the stream tells: refused while streaming.
  st::raw_client c{a.port};
  std::string head = "PUT /api/v1/products/" + product
                     + "/files?name=big.bin HTTP/1.1\r\nHost: t\r\n"
                       "Authorization: Bearer "
                     + token + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string chunk(16 * 1024, 'c');
  c.send(head);
  for (int i = 0; i < 6; ++i) {
    try {
      c.send("4000\r\n" + chunk + "\r\n");
    } catch (const std::exception&) {
      break; // the server may close once it has answered
    }
  }
  auto raw = c.read_response(5s);
  BOOST_REQUIRE(raw);
  BOOST_TEST(st::parse_reply(*raw).status == 413u);
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(rows() == 0);
  BOOST_TEST(blobs() == 0u);
  BOOST_TEST(parts() == 0u);
}

BOOST_AUTO_TEST_CASE(an_aborted_upload_leaves_nothing) {
  {
    st::raw_client c{a.port};
    c.send("PUT /api/v1/products/" + product
           + "/files?name=half.bin HTTP/1.1\r\nHost: t\r\nAuthorization: "
             "Bearer "
           + token + "\r\nContent-Length: 60000\r\n\r\n"
           + std::string(30000, 'h'));
    std::this_thread::sleep_for(300ms);
  } // the client goes away mid-body
  for (int i = 0; i < 50 && parts() > 0; ++i)
    std::this_thread::sleep_for(50ms);
  BOOST_TEST(parts() == 0u);
  BOOST_TEST(blobs() == 0u);
  BOOST_TEST(rows() == 0);
}

BOOST_AUTO_TEST_CASE(dangerous_names_are_refused) {
  for (std::string name : std::vector<std::string>{
         "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "a%2Fb", "a%5Cb",
         "evil%00.pdf", "..", ".", "", "%20%20", "tab%09name",
         std::string(300, 'n'), "%FF%FE.pdf"}) {
    auto res = put(name, "data");
    BOOST_TEST_INFO("name=" << name << " -> " << res.body);
    BOOST_TEST(res.status == 422u);
    BOOST_TEST(json::parse(res.body)["field"] == "name");
  }
  BOOST_TEST(rows() == 0);
  BOOST_TEST(blobs() == 0u);
  BOOST_TEST(parts() == 0u);
  // Ordinary names with spaces and non-ASCII letters are fine.
  BOOST_TEST(put("My%20Book%20%C3%A9dition.pdf", "ok").status == 201u);
}

BOOST_AUTO_TEST_CASE(only_the_owner_uploads_to_a_live_product) {
  auto other = a.login(a.new_user("creator"));
  BOOST_TEST(put("x.pdf", "x", other).status == 404u);
  auto archived = a.make_product(creator, "archived");
  auto res = st::http_request(
    a.port, "PUT", "/api/v1/products/" + archived + "/files?name=x.pdf", "x",
    {{"Authorization", "Bearer " + token}});
  BOOST_TEST(res.status == 409u);
  auto none = st::http_request(
    a.port, "PUT", "/api/v1/products/" + souk::new_uuid() + "/files?name=x",
    "x", {{"Authorization", "Bearer " + token}});
  BOOST_TEST(none.status == 404u);
  BOOST_TEST(rows() == 0);
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_only_when_accepted) {
  // Refused: the final answer comes at once, no 100 Continue, no body read.
  {
    st::raw_client c{a.port};
    c.send("PUT /api/v1/products/" + product
           + "/files?name=x.pdf HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
             "Expect: 100-continue\r\n\r\n");
    auto raw = c.read_response(3s);
    BOOST_REQUIRE(raw);
    BOOST_TEST(st::parse_reply(*raw).status == 401u);
  }
  // Accepted: 100 Continue, then the body, then 201.
  st::raw_client c{a.port};
  c.send("PUT /api/v1/products/" + product
         + "/files?name=x.pdf HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
         + token + "\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto cont = c.read_response(3s);
  BOOST_REQUIRE(cont);
  BOOST_TEST(st::parse_reply(*cont).status == 100u);
  c.send("hello");
  auto raw = c.read_response(3s);
  BOOST_REQUIRE(raw);
  BOOST_TEST(st::parse_reply(*raw).status == 201u);
}

BOOST_AUTO_TEST_SUITE_END()
