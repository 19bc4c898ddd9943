#include <boost/test/unit_test.hpp>

#include "souk/http/router.hpp"

using routes = souk::http::router;

namespace {

souk::http::handler tag(int n, int* hit) {
  return
    [n, hit](const souk::http::request&, souk::http::reply_fn) { *hit = n; };
}

// 404 or 405 if nothing matches, else runs the handler and returns 200.
int call(const routes& r, std::string_view method, std::string_view path) {
  auto m = r.match(method, path);
  if (m.target == nullptr)
    return m.allowed.empty() ? 404 : 405;
  souk::http::request req;
  (*m.target)(req, nullptr);
  return 200;
}

} // namespace

BOOST_AUTO_TEST_SUITE(router)

BOOST_AUTO_TEST_CASE(literal_and_parameter_segments_match) {
  int hit = 0;
  routes r;
  r.add("GET", "/api/v1/products", tag(1, &hit));
  r.add("GET", "/api/v1/products/{id}", tag(2, &hit));
  r.add("PUT", "/api/v1/products/{id}/files", tag(3, &hit));
  auto m = r.match("GET", "/api/v1/products/abc");
  BOOST_REQUIRE(m.target != nullptr);
  BOOST_TEST(m.params.at("id") == "abc");
  (*m.target)(souk::http::request{}, nullptr);
  BOOST_TEST(hit == 2);
  BOOST_TEST(r.match("PUT", "/api/v1/products/x/files").target != nullptr);
  BOOST_TEST(r.match("GET", "/api/v1/products").target != nullptr);
}

BOOST_AUTO_TEST_CASE(parameters_are_decoded_after_splitting) {
  routes r;
  int hit = 0;
  r.add("GET", "/files/{name}", tag(1, &hit));
  auto m = r.match("GET", "/files/a%2Fb%20c");
  BOOST_REQUIRE(m.target != nullptr);
  BOOST_TEST(m.params.at("name") == "a/b c");
  BOOST_TEST(r.match("GET", "/files/a/b").target == nullptr);
  BOOST_TEST(r.match("GET", "/files/%zz").target == nullptr);
}

BOOST_AUTO_TEST_CASE(unknown_paths_and_wrong_methods_are_told_apart) {
  routes r;
  int hit = 0;
  r.add("GET", "/x", tag(1, &hit));
  r.add("DELETE", "/x", tag(2, &hit));
  auto wrong = r.match("POST", "/x");
  BOOST_TEST(wrong.target == nullptr);
  BOOST_TEST((wrong.allowed == std::vector<std::string>{"GET", "DELETE"}));
  auto missing = r.match("GET", "/y");
  BOOST_TEST(missing.target == nullptr);
  BOOST_TEST(missing.allowed.empty());
}

BOOST_AUTO_TEST_CASE(near_misses_do_not_match) {
  routes r;
  int hit = 0;
  r.add("GET", "/a/{id}", tag(1, &hit));
  for (auto p : {"/a", "/a/", "/a//", "/a/1/", "/a/1/2", "//a/1", "a/1", ""}) {
    BOOST_TEST_INFO(p);
    BOOST_TEST(call(r, "GET", p) == 404);
  }
}

BOOST_AUTO_TEST_CASE(head_falls_back_to_get) {
  routes r;
  int hit = 0;
  r.add("GET", "/healthz", tag(7, &hit));
  BOOST_TEST(call(r, "HEAD", "/healthz") == 200);
  BOOST_TEST(hit == 7);
}

BOOST_AUTO_TEST_CASE(duplicate_or_relative_routes_are_refused) {
  routes r;
  int hit = 0;
  r.add("GET", "/x", tag(1, &hit));
  BOOST_CHECK_THROW(r.add("GET", "/x", tag(1, &hit)), std::invalid_argument);
  BOOST_CHECK_THROW(r.add("GET", "x", tag(1, &hit)), std::invalid_argument);
  BOOST_TEST(r.routes().size() == 1u);
}

BOOST_AUTO_TEST_CASE(query_strings_decode) {
  auto q = souk::http::decode_query("a=1&b=two+words&c=%2F&&d");
  BOOST_REQUIRE(q);
  BOOST_REQUIRE_EQUAL(q->size(), 4u);
  BOOST_TEST((*q)[1].second == "two words");
  BOOST_TEST((*q)[2].second == "/");
  BOOST_TEST((*q)[3].first == "d");
  BOOST_TEST(!souk::http::decode_query("a=%4"));
}

BOOST_AUTO_TEST_SUITE_END()
