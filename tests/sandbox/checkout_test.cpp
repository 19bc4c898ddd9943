// The hosted checkout page, driven as a browser would: GET the page, POST
// its form.

#include "fixture.hpp"

using namespace souk::testing;

namespace {

std::string code_of(const json& init) {
  return init.at("access_code").get<std::string>();
}

http_reply submit(const sandbox_app& app, const std::string& code,
                  const std::string& form) {
  return http_request(app.port, "POST", "/checkout/" + code, form,
                      {{"Content-Type", "application/x-www-form-urlencoded"}});
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(checkout)

BOOST_AUTO_TEST_CASE(the_page_shows_amount_and_email_escaped) {
  sandbox_app app;
  auto init = app.initialize(
    {{"email", "<b>o'neil&co</b>@example.com"}, {"amount", 123456789}});
  // The page needs no key: the buyer's browser has none.
  auto page = http_request(app.port, "GET", "/checkout/" + code_of(init));
  BOOST_TEST(page.status == 200u);
  BOOST_TEST(page.header("content-type").value_or("")
             == "text/html; charset=utf-8");
  BOOST_TEST(contains(page.body, "NGN 1,234,567.89"));
  BOOST_TEST(
    contains(page.body, "&lt;b&gt;o&apos;neil&amp;co&lt;/b&gt;@example.com"));
  BOOST_TEST(!contains(page.body, "<b>o'neil"));
  BOOST_TEST(contains(page.body, R"(name="action" value="pay")"));
  BOOST_TEST(contains(page.body, R"(name="action" value="decline")"));
  BOOST_TEST(contains(page.body, R"(method="post")"));
  BOOST_TEST(contains(page.body, init["reference"].get<std::string>()));
}

BOOST_AUTO_TEST_CASE(other_currencies_show_in_major_units) {
  sandbox_app app;
  auto init = app.initialize({{"currency", "USD"}, {"amount", 250}});
  auto page = http_request(app.port, "GET", "/checkout/" + code_of(init));
  BOOST_TEST(contains(page.body, "USD 2.50"));
}

BOOST_AUTO_TEST_CASE(an_unknown_access_code_is_a_404_page) {
  sandbox_app app;
  auto page = http_request(app.port, "GET", "/checkout/nosuchcode");
  BOOST_TEST(page.status == 404u);
  BOOST_TEST(contains(page.header("content-type").value_or(""), "text/html"));
  BOOST_TEST(submit(app, "nosuchcode", "action=pay").status == 404u);
}

BOOST_AUTO_TEST_CASE(pay_redirects_to_the_callback_and_sends_charge_success) {
  sandbox_app app;
  auto init = app.initialize(
    {{"callback_url", "https://shop.test/return"}, {"reference", "pay-1"}});
  auto res = submit(app, code_of(init), "action=pay");
  BOOST_TEST(res.status == 303u);
  BOOST_TEST(res.header("location").value_or("")
             == "https://shop.test/return?trxref=pay-1&reference=pay-1");
  auto data = app.verify("pay-1")["data"];
  BOOST_TEST(data["status"] == "success");
  BOOST_TEST(data["paid_at"].is_string());
  BOOST_TEST(data["ip_address"] == "127.0.0.1");

  auto hooks = app.hooks.wait_for(1);
  BOOST_REQUIRE(hooks.size() == 1u);
  auto& hook = hooks[0];
  BOOST_TEST(hook.event() == "charge.success");
  BOOST_TEST(hook.content_type == "application/json");
  BOOST_TEST(hook.signature == souk::hmac_sha512_hex(secret, hook.body));
  BOOST_TEST(hook.signature.size() == 128u);
  // The webhook carries exactly what verify reports.
  BOOST_TEST(hook.data() == data);
}

BOOST_AUTO_TEST_CASE(the_callback_keeps_its_own_query) {
  sandbox_app app;
  auto init
    = app.initialize({{"callback_url", "http://shop.test/r?order=7#top"},
                      {"reference", "q.1=x"}});
  auto res = submit(app, code_of(init), "action=pay");
  BOOST_TEST(res.status == 303u);
  BOOST_TEST(
    res.header("location").value_or("")
    == "http://shop.test/r?order=7&trxref=q.1%3Dx&reference=q.1%3Dx#top");
}

BOOST_AUTO_TEST_CASE(decline_redirects_and_sends_no_webhook) {
  sandbox_app app;
  auto init = app.initialize(
    {{"callback_url", "https://shop.test/return"}, {"reference", "dec-1"}});
  auto res = submit(app, code_of(init), "action=decline");
  BOOST_TEST(res.status == 303u);
  BOOST_TEST(res.header("location").value_or("")
             == "https://shop.test/return?trxref=dec-1&reference=dec-1");
  auto data = app.verify("dec-1")["data"];
  BOOST_TEST(data["status"] == "failed");
  BOOST_TEST(data["gateway_response"] == "Declined");
  // Nothing was queued (events are counted when queued or dropped) ...
  auto stats = app.gw->stats();
  BOOST_TEST(stats.webhook_attempts == 0u);
  BOOST_TEST(stats.webhooks_dropped == 0u);
  // ... and a later payment's webhook is the only one that arrives.
  auto later = app.paid();
  app.wait_delivered(1);
  auto hooks = app.hooks.received();
  BOOST_REQUIRE(hooks.size() == 1u);
  BOOST_TEST(hooks[0].data()["reference"] == later);
}

BOOST_AUTO_TEST_CASE(without_a_callback_the_buyer_gets_a_page) {
  sandbox_app app;
  auto paid = app.initialize();
  auto res = submit(app, code_of(paid), "action=pay");
  BOOST_TEST(res.status == 200u);
  BOOST_TEST(contains(res.body, "Payment successful"));
  BOOST_TEST(contains(res.body, "NGN 5,000.00"));
  auto declined = app.initialize();
  res = submit(app, code_of(declined), "action=decline");
  BOOST_TEST(res.status == 200u);
  BOOST_TEST(contains(res.body, "Payment declined"));
}

BOOST_AUTO_TEST_CASE(a_finished_transaction_cannot_be_paid_again) {
  sandbox_app app;
  auto init = app.initialize();
  auto ref = init["reference"].get<std::string>();
  BOOST_TEST(submit(app, code_of(init), "action=pay").status == 200u);
  auto paid_at = app.verify(ref)["data"]["paid_at"];
  for (auto action : {"action=pay", "action=decline"}) {
    auto res = submit(app, code_of(init), action);
    BOOST_TEST(res.status == 409u);
    BOOST_TEST(contains(res.body, "already been paid"));
  }
  auto data = app.verify(ref)["data"];
  BOOST_TEST(data["status"] == "success");
  BOOST_TEST(data["paid_at"] == paid_at);
  // The page no longer offers to pay.
  auto page = http_request(app.port, "GET", "/checkout/" + code_of(init));
  BOOST_TEST(page.status == 200u);
  BOOST_TEST(contains(page.body, "already been paid"));
  BOOST_TEST(!contains(page.body, "value=\"pay\""));
  // A declined one says so.
  auto other = app.initialize();
  BOOST_TEST(submit(app, code_of(other), "action=decline").status == 200u);
  auto res = submit(app, code_of(other), "action=pay");
  BOOST_TEST(res.status == 409u);
  BOOST_TEST(contains(res.body, "already been declined"));
}

BOOST_AUTO_TEST_CASE(a_form_without_a_valid_action_is_refused) {
  sandbox_app app;
  auto init = app.initialize();
  for (auto form : {"", "action=refund", "other=pay", "action=%zz"})
    BOOST_TEST(submit(app, code_of(init), form).status == 400u);
  BOOST_TEST(app.verify(init["reference"])["data"]["status"] == "abandoned");
}

BOOST_AUTO_TEST_SUITE_END()
