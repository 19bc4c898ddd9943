// The web pages over real HTTP, on SQLite and PostgreSQL: every form
// refuses a missing or forged CSRF token (and a foreign Origin) and writes
// nothing; pages carry their security headers; a form goes through the
// API's own rules; static files are cached by ETag. The browser tests
// (tests/browser) drive the pages end to end.

#include <filesystem>
#include <fstream>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "app.hpp"

namespace st = souk::testing;
using souk::testing::app;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A browser's visit: it keeps the cookies it is given.
struct browser {
  uint16_t port;
  std::map<std::string, std::string> jar;

  st::http_reply go(const std::string& method, const std::string& target,
                    const std::string& form = {},
                    std::vector<std::pair<std::string, std::string>> h = {}) {
    std::string cookies;
    for (auto& [k, v] : jar)
      cookies += (cookies.empty() ? "" : "; ") + k + "=" + v;
    if (!cookies.empty())
      h.emplace_back("Cookie", cookies);
    if (method == "POST")
      h.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    auto r = st::http_request(port, method, target, form, h);
    for (auto& [k, v] : r.headers) {
      if (k != "set-cookie")
        continue;
      auto eq = v.find('=');
      auto semi = v.find(';');
      auto value = v.substr(eq + 1, semi - eq - 1);
      if (contains(v, "Max-Age=0"))
        jar.erase(v.substr(0, eq));
      else
        jar[v.substr(0, eq)] = value;
    }
    return r;
  }

  // The `_csrf` of the first form on a page.
  static std::string csrf_of(const std::string& html) {
    auto at = html.find("name=\"_csrf\" value=\"");
    BOOST_REQUIRE(at != std::string::npos);
    at += 20;
    return html.substr(at, html.find('"', at) - at);
  }
};

int64_t rows(app& a, const std::string& table) {
  long long n = 0;
  auto st = a.db->run([&](soci::session& sql) {
    sql << "SELECT COUNT(*) FROM " + table, soci::into(n);
  });
  BOOST_REQUIRE(!st);
  return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(pages)

BOOST_AUTO_TEST_CASE(every_form_refuses_a_missing_or_forged_token) {
  app a{app::cheap(), 100000, 100000, 1 << 20, true};
  browser b{a.port, {}};
  auto home = b.go("GET", "/");
  BOOST_REQUIRE(home.status == 200u);
  auto good = browser::csrf_of(b.go("GET", "/signup").body);
  auto before = rows(a, "users") + rows(a, "products") + rows(a, "orders");
  size_t forms = 0;
  for (auto& route : a.routes.routes()) {
    auto& p = route.pattern;
    if (route.method != "POST" || p.starts_with("/api/")
        || p.starts_with("/admin/"))
      continue;
    ++forms;
    std::string target;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] == '{') {
        target += souk::new_uuid();
        i = p.find('}', i);
      } else {
        target += p[i];
      }
    }
    auto fields = std::string{"email=x%40example.com&password=correct+horse+"
                              "battery&title=T&price=10&reason=r"};
    for (auto [form, headers, what] :
         {std::tuple{fields, std::vector<std::pair<std::string, std::string>>{},
                     "no token"},
          std::tuple{fields + "&_csrf=forged-forged-forged",
                     std::vector<std::pair<std::string, std::string>>{},
                     "a forged token"},
          std::tuple{fields + "&_csrf=" + good,
                     std::vector<std::pair<std::string, std::string>>{
                       {"Origin", "http://evil.example"}},
                     "a foreign Origin"}}) {
      auto r = b.go("POST", target, form, headers);
      BOOST_TEST_INFO(route.method << " " << target << " with " << what << ": "
                                   << r.status);
      // Refused: said so on a page, or (pages for accounts) sent to sign in.
      if (r.status == 303u) {
        BOOST_TEST(r.header("location").value_or("").starts_with("/login"));
      } else {
        BOOST_TEST((r.status == 403u || r.status == 404u));
        BOOST_TEST(
          contains(r.header("content-type").value_or(""), "text/html"));
      }
    }
  }
  BOOST_TEST(forms >= 12u);
  BOOST_TEST(rows(a, "users") + rows(a, "products") + rows(a, "orders")
             == before);
  // The same form with its token goes through.
  auto ok = b.go("POST", "/signup",
                 "_csrf=" + good
                   + "&email=new%40example.com&password=correct+horse+"
                     "battery&role=creator");
  BOOST_TEST(ok.status == 303u);
  BOOST_TEST(rows(a, "users") == 1);
}

BOOST_AUTO_TEST_CASE(bytes_that_are_not_utf8_get_an_answer_not_a_crash) {
  app a{app::cheap(), 100000, 100000, 1 << 20, true};
  browser b{a.port, {}};
  auto token = browser::csrf_of(b.go("GET", "/login").body);
  // A made-up session sends the page's API calls through a database
  // thread, where an exception would end the process.
  b.jar["souk_session"] = "made-up";
  for (auto target : {"/login", "/signup"}) {
    auto r = b.go("POST", target,
                  "_csrf=" + token + "&email=%FF%FE&password=%C3%28");
    BOOST_TEST_INFO(target);
    BOOST_TEST(r.status >= 400u);
    BOOST_TEST(r.status < 500u);
  }
  BOOST_TEST(b.go("GET", "/").status == 200u);
  BOOST_TEST(rows(a, "users") == 0);
}

BOOST_AUTO_TEST_CASE(pages_carry_their_security_headers) {
  app a{app::cheap(), 100000, 100000, 1 << 20, true};
  browser b{a.port, {}};
  for (auto& target :
       std::vector<std::string>{"/", "/login", "/signup", "/p/nope",
                                "/orders/nope", "/d/" + std::string(43, 'x')}) {
    auto r = b.go("GET", target, {}, {{"Accept", "text/html"}});
    BOOST_TEST_INFO(target << " " << r.status);
    BOOST_TEST(contains(r.header("content-type").value_or(""), "text/html"));
    auto csp = r.header("content-security-policy").value_or("");
    BOOST_TEST(contains(csp, "default-src 'none'"));
    BOOST_TEST(contains(csp, "script-src 'self'"));
    BOOST_TEST(contains(csp, "form-action 'self'"));
    BOOST_TEST(contains(csp, "frame-ancestors 'none'"));
    BOOST_TEST(r.header("x-frame-options").value_or("") == "DENY");
    BOOST_TEST(r.header("x-content-type-options").value_or("") == "nosniff");
    BOOST_TEST(r.header("referrer-policy").value_or("") == "same-origin");
    BOOST_TEST(r.header("cache-control").value_or("") == "no-store");
  }
  // A form cookie is HttpOnly and SameSite.
  BOOST_TEST(contains(
    st::http_request(a.port, "GET", "/").header("set-cookie").value_or(""),
    "HttpOnly; SameSite=Lax"));
}

BOOST_AUTO_TEST_CASE(forms_go_through_the_apis_rules) {
  app a{app::cheap(), 100000, 100000, 1 << 20, true};
  browser b{a.port, {}};
  // A bad email is named by the API and shown next to the field.
  auto token = browser::csrf_of(b.go("GET", "/signup").body);
  auto bad = b.go("POST", "/signup",
                  "_csrf=" + token
                    + "&email=nope&password=correct+horse+"
                      "battery&role=customer");
  BOOST_TEST(bad.status == 422u);
  BOOST_TEST(contains(bad.body, "id=\"email-error\""));
  BOOST_TEST(rows(a, "users") == 0);
  // A customer's session: the creator's pages and the API's creator-only
  // routes refuse it alike.
  auto in = b.go("POST", "/signup",
                 "_csrf=" + token
                   + "&email=buyer%40example.com&password=correct+horse+"
                     "battery&role=customer&next=%2F%2Fevil.example");
  BOOST_TEST(in.status == 303u);
  BOOST_TEST(in.header("location").value_or("") == "/library?notice=signed_up");
  BOOST_TEST(b.jar.count("souk_session") == 1u);
  auto dash = b.go("GET", "/dashboard");
  BOOST_TEST(dash.status == 403u);
  BOOST_TEST(contains(dash.body, "This page is for creators"));
  auto session_token = browser::csrf_of(b.go("GET", "/library").body);
  auto made = b.go("POST", "/dashboard/products",
                   "_csrf=" + session_token + "&title=T&price=2500");
  BOOST_TEST(made.status == 403u);
  BOOST_TEST(rows(a, "products") == 0);
  // Signed out, a page that needs an account sends the visitor to sign in.
  auto out = b.go("POST", "/logout", "_csrf=" + session_token);
  BOOST_TEST(out.status == 303u);
  BOOST_TEST(b.jar.count("souk_session") == 0u);
  auto again = b.go("GET", "/dashboard");
  BOOST_TEST(again.status == 303u);
  BOOST_TEST(again.header("location").value_or("")
             == "/login?next=%2Fdashboard");
}

BOOST_AUTO_TEST_CASE(static_files_are_cached_by_etag) {
  app a{app::cheap(), 100000, 100000, 1 << 20, true};
  auto css = st::http_request(a.port, "GET", "/static/souk.css");
  BOOST_TEST(css.status == 200u);
  BOOST_TEST(contains(css.header("content-type").value_or(""), "text/css"));
  auto etag = css.header("etag").value_or("");
  BOOST_TEST(!etag.empty());
  auto same = st::http_request(a.port, "GET", "/static/souk.css", {},
                               {{"If-None-Match", etag}});
  BOOST_TEST(same.status == 304u);
  BOOST_TEST(st::http_request(a.port, "GET", "/static/nope.js").status == 404u);
}

// An operator's own look: `pages.templates` adds and replaces templates
// (the layout's `_head` and `_footer` partials are there for it) and static
// files, and a replaced file gets a new version in the pages' URLs; a
// template that does not parse stops the start, naming its file.
BOOST_AUTO_TEST_CASE(a_directory_adds_and_replaces_templates_and_files) {
  namespace fs = std::filesystem;
  st::temp_dir dir;
  auto put = [&](const fs::path& rel, const std::string& text) {
    fs::create_directories((dir.path() / rel).parent_path());
    std::ofstream{dir.path() / rel, std::ios::binary} << text;
  };
  put("_footer.html", "<p id=\"made-by\">Made by {{shop_name}}</p>");
  put(
    "_head.html",
    "<link rel=\"stylesheet\" href=\"/static/brand.css?v={{asset_version}}\">");
  put("static/brand.css", "body { color: #123456; }");
  put("static/souk.css", "/* the shop's own */");
  put("notes.txt", "not a template: left alone");
  put("static/.hidden", "never served");
  souk::pages::options opts;
  opts.shop_name = "Ada's";
  opts.templates = dir.path().string();
  app mine{app::cheap(), 100000, 100000, 1 << 20, true, {}, opts};
  app shipped{app::cheap(), 100000, 100000, 1 << 20, true};
  auto version = [](const std::string& html) {
    auto at = html.find("souk.css?v=");
    BOOST_REQUIRE(at != std::string::npos);
    return html.substr(at + 11, html.find('"', at) - at - 11);
  };
  auto home = st::http_request(mine.port, "GET", "/");
  BOOST_REQUIRE_EQUAL(home.status, 200u);
  BOOST_TEST(contains(home.body, "<p id=\"made-by\">Made by Ada&apos;s</p>"),
             home.body);
  BOOST_TEST(!contains(home.body, "delivered at once"));
  BOOST_TEST(contains(home.body, "/static/brand.css?v="));
  BOOST_TEST(contains(home.body, "Search products")); // the shipped home
  auto theirs = st::http_request(shipped.port, "GET", "/");
  BOOST_TEST(contains(theirs.body, "delivered at once"));
  BOOST_TEST(version(home.body) != version(theirs.body));
  auto brand = st::http_request(mine.port, "GET", "/static/brand.css");
  BOOST_TEST(brand.status == 200u);
  BOOST_TEST(brand.body == "body { color: #123456; }");
  BOOST_TEST(contains(brand.header("content-type").value_or(""), "text/css"));
  BOOST_TEST(st::http_request(mine.port, "GET", "/static/souk.css").body
             == "/* the shop's own */");
  BOOST_TEST(st::http_request(mine.port, "GET", "/static/notes.txt").status
             == 404u);
  BOOST_TEST(st::http_request(mine.port, "GET", "/static/.hidden").status
             == 404u);

  // A template that does not parse: no routes, an error naming the file.
  st::temp_dir bad;
  std::ofstream{bad.path() / "home.html"} << "<h1>{{#open}}never closed</h1>";
  souk::http::router r;
  souk::pages::options bad_opts;
  bad_opts.templates = bad.path().string();
  auto refused = souk::pages::add_routes(r, bad_opts);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(
    contains(refused.err().detail, (bad.path() / "home.html").string()),
    refused.err().detail);
  // A directory that is not there is an error too, not the shipped look.
  bad_opts.templates = (bad.path() / "missing").string();
  BOOST_TEST(!souk::pages::add_routes(r, bad_opts));
}

BOOST_AUTO_TEST_SUITE_END()
