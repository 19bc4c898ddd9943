// Messages as bytes: quoted-printable both ways, a stable message for the
// same parts, encoded subjects; and the shipped templates rendering.

#include <filesystem>
#include <fstream>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "souk/email/message.hpp"
#include "souk/email/templates.hpp"
#include "souk/testing/support.hpp"

namespace se = souk::email;

BOOST_AUTO_TEST_SUITE(email_message)

BOOST_AUTO_TEST_CASE(quoted_printable_round_trips_and_keeps_lines_short) {
  std::string text
    = "Plain line\nTrailing space \n" + std::string(200, 'x')
      + "\nNaïra = ₦ 5,000\n"
      + "http://127.0.0.1:8080/d/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\n";
  auto qp = se::quoted_printable(text);
  size_t start = 0;
  while (start < qp.size()) {
    auto end = qp.find("\r\n", start);
    if (end == std::string::npos)
      end = qp.size();
    BOOST_TEST(end - start <= 76u);
    start = end + 2;
  }
  BOOST_TEST(qp.find("space=20\r\n") != std::string::npos);
  BOOST_TEST(qp.find("=3D") != std::string::npos);
  auto back = se::decode_quoted_printable(qp);
  std::string crlf;
  for (char c : text) {
    if (c == '\n')
      crlf += '\r';
    crlf += c;
  }
  BOOST_TEST(back == crlf);
}

BOOST_AUTO_TEST_CASE(the_same_parts_give_the_same_bytes) {
  se::message_parts p{"Shop <shop@example.com>",
                      "buyer@example.com",
                      "Your receipt for Ẹ̀kọ́ book",
                      "Hello\n",
                      "<p>Hello</p>\n",
                      "0190-abc@example.com",
                      "Sun, 22 Nov 2026 10:00:00 +0000"};
  auto a = se::compose(p);
  auto b = se::compose(p);
  BOOST_TEST(a == b);
  BOOST_TEST(a.find("Message-ID: <0190-abc@example.com>\r\n")
             != std::string::npos);
  BOOST_TEST(a.find("Subject: =?UTF-8?B?") != std::string::npos);
  BOOST_TEST(a.find("multipart/alternative") != std::string::npos);
  BOOST_TEST(a.find("Content-Type: text/html; charset=utf-8")
             != std::string::npos);
  // A header value cannot smuggle another header in.
  p.subject = "Hi\r\nBcc: victim@example.com";
  BOOST_TEST(se::compose(p).find("\r\nBcc:") == std::string::npos);
  BOOST_TEST(se::address_of("Shop <shop@example.com>") == "shop@example.com");
  BOOST_TEST(se::address_of("shop@example.com") == "shop@example.com");
}

BOOST_AUTO_TEST_CASE(the_receipt_renders_links_and_escapes_html_only) {
  auto t = se::templates::load();
  BOOST_REQUIRE_MESSAGE(t, (t ? "" : t.err().detail));
  nlohmann::json model{
    {"order_id", "o1"},
    {"product_title", "Tips & <Tricks>"},
    {"amount", "NGN 5,000.00"},
    {"shop_name", "souk"},
    {"files",
     {{{"name", "book.pdf"}, {"size", "1.0 MiB"}, {"url", "http://x/d/T"}}}},
    {"has_files", true},
    {"many_files", false},
    {"max_downloads", "5"},
    {"expires_at", "2026-11-23 10:00"}};
  auto r = t->render("receipt", model);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.err().detail));
  BOOST_TEST(r->subject == "Your receipt for Tips & <Tricks>");
  BOOST_TEST(r->text.find("http://x/d/T") != std::string::npos);
  BOOST_TEST(r->text.find("Tips & <Tricks>") != std::string::npos);
  BOOST_TEST(r->html.find("Tips &amp; &lt;Tricks&gt;") != std::string::npos);
  BOOST_TEST(r->html.find("href=\"http://x/d/T\"") != std::string::npos);
  auto missing = t->render("no_such_template", model);
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.err().code == souk::errc::invalid_field);
}

BOOST_AUTO_TEST_CASE(a_template_directory_adds_and_bad_files_are_named) {
  souk::testing::temp_dir dir;
  std::ofstream{dir.path() / "welcome.subject"} << "Welcome {{name}}";
  std::ofstream{dir.path() / "welcome.txt"} << "Hello {{name}}\n";
  auto t = se::templates::load(dir.path().string());
  BOOST_REQUIRE_MESSAGE(t, (t ? "" : t.err().detail));
  auto r = t->render("welcome", {{"name", "Ada"}});
  BOOST_REQUIRE(r);
  BOOST_TEST(r->subject == "Welcome Ada");
  BOOST_TEST(r->html.empty());

  std::ofstream{dir.path() / "broken.subject"} << "x";
  std::ofstream{dir.path() / "broken.txt"} << "Hello {{#open}} never closed\n";
  auto bad = se::templates::load(dir.path().string());
  BOOST_REQUIRE(!bad);
  BOOST_TEST(bad.err().detail.find("broken.txt") != std::string::npos);

  std::filesystem::remove(dir.path() / "broken.txt");
  auto half = se::templates::load(dir.path().string());
  BOOST_REQUIRE(!half);
  BOOST_TEST(half.err().detail.find("broken.txt") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
