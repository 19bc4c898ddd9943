// The hosted checkout page: what Paystack's payment popup is to a buyer, cut
// down to two buttons. One form, two submit buttons, so it works without
// JavaScript and a test can drive it with a plain form POST.

#include <string_view>

#include <fmt/format.h>
#include <kainjow/mustache.hpp>

#include "souk/core/units.hpp"

#include "fields.hpp"
#include "routes.hpp"

namespace souk::sandbox {

namespace {

// Every value goes through {{ }} (HTML-escaped); nothing uses {{{ }}}. The
// form posts to "./CODE", i.e. the page's own URL, under whatever prefix
// or public URL the browser used to get here.
constexpr std::string_view page_template = R"(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} - souk sandbox gateway</title>
<style>
body { font-family: system-ui, sans-serif; background: #f4f5f7; margin: 0; }
main { max-width: 26rem; margin: 3rem auto; background: #fff; padding: 2rem;
       border-radius: .5rem; box-shadow: 0 1px 4px rgba(0,0,0,.15); }
.note { color: #8a5a00; background: #fff4d6; padding: .4rem .6rem;
        border-radius: .3rem; font-size: .85rem; }
.amount { font-size: 2rem; font-weight: 600; margin: .5rem 0; }
.muted { color: #666; font-size: .9rem; word-break: break-all; }
button { font-size: 1rem; padding: .7rem 1.2rem; margin: .3rem .3rem 0 0;
         border-radius: .3rem; border: 1px solid #0a7d3b; cursor: pointer; }
.pay { background: #0a7d3b; color: #fff; }
.decline { background: #fff; color: #a11; border-color: #a11; }
</style>
</head>
<body>
<main>
<p class="note">Sandbox gateway: no real money moves.</p>
<h1>{{heading}}</h1>
{{#checkout}}
<p class="amount" id="amount">{{amount}}</p>
<p>Paying as <strong id="email">{{email}}</strong></p>
<p class="muted">Reference {{reference}}</p>
<form method="post" action="./{{access_code}}">
<button class="pay" type="submit" name="action" value="pay">Pay {{amount}}</button>
<button class="decline" type="submit" name="action" value="decline">Decline</button>
</form>
{{/checkout}}
{{#message}}
<p id="message">{{message}}</p>
{{/message}}
{{#reference}}
<p class="muted">Reference {{reference}}</p>
{{/reference}}
</main>
</body>
</html>
)";

struct page {
  unsigned status = 200;
  std::string title;
  std::string heading;
  std::string message;
  std::string reference; ///< shown under the message
  /// Set for the payment form.
  std::optional<engine::checkout_view> form;
  std::string access_code;
};

http::response render(const page& p) {
  using kainjow::mustache::data;
  data view;
  view.set("title", p.title);
  view.set("heading", p.heading);
  if (!p.message.empty())
    view.set("message", p.message);
  if (p.form) {
    data form;
    form.set("amount", format_money(p.form->amount, p.form->currency));
    form.set("email", p.form->email);
    form.set("reference", p.form->reference);
    form.set("access_code", p.access_code);
    view.set("checkout", form);
  } else if (!p.reference.empty()) {
    view.set("reference", p.reference);
  }
  // Parsed per page: kainjow's render is not const, and the template is
  // small next to a network round trip.
  kainjow::mustache::mustache tmpl{std::string{page_template}};
  http::response res;
  res.status = p.status;
  res.content_type = "text/html; charset=utf-8";
  res.body = tmpl.render(view);
  res.header("Cache-Control", "no-store");
  res.header("Content-Security-Policy",
             "default-src 'none'; style-src 'unsafe-inline'");
  res.header("X-Frame-Options", "DENY");
  return res;
}

page not_found() {
  page p;
  p.status = 404;
  p.title = p.heading = "Checkout not found";
  p.message = "This payment link is not known to the sandbox gateway (it "
              "forgets everything when it restarts).";
  return p;
}

// `callback` with Paystack's `trxref` and `reference` added to its query.
std::string callback_target(const std::string& callback,
                            const std::string& reference) {
  auto hash = callback.find('#');
  auto base = callback.substr(0, hash);
  auto fragment = hash == std::string::npos ? "" : callback.substr(hash);
  auto ref = query_escape(reference);
  char glue = base.find('?') == std::string::npos ? '?' : '&';
  if (base.back() == '?' || base.back() == '&')
    glue = '\0';
  auto query = fmt::format("trxref={}&reference={}", ref, ref);
  return glue ? base + glue + query + fragment : base + query + fragment;
}

} // namespace

http::handler checkout_page(std::shared_ptr<engine> e) {
  return [e = std::move(e)](const http::request& req, http::reply_fn reply) {
    auto& code = req.param("access_code");
    auto view = e->find_checkout(code);
    if (!view)
      return reply(render(not_found()));
    page p;
    if (view->status != "abandoned") {
      p.title = p.heading = "Already finished";
      p.message = view->status == "failed"
                    ? "This payment has already been declined."
                    : "This payment has already been paid.";
      p.reference = view->reference;
      return reply(render(p));
    }
    p.title = "Pay " + format_money(view->amount, view->currency);
    p.heading = "Complete your payment";
    p.form = std::move(view);
    p.access_code = code;
    reply(render(p));
  };
}

http::handler checkout_submit(std::shared_ptr<engine> e) {
  return [e = std::move(e)](const http::request& req, http::reply_fn reply) {
    auto form = http::decode_query(req.body);
    std::string action;
    if (form)
      for (auto& [name, value] : *form)
        if (name == "action")
          action = value;
    if (action != "pay" && action != "decline") {
      page p;
      p.status = 400;
      p.title = p.heading = "Bad request";
      p.message = "The form must send action=pay or action=decline.";
      return reply(render(p));
    }
    auto done = e->finish_by_code(req.param("access_code"), action == "pay",
                                  req.remote);
    if (!done) {
      if (done.err().code == errc::not_found)
        return reply(render(not_found()));
      page p;
      p.status = 409;
      p.title = p.heading = "Already finished";
      p.message = done.err().detail + "; nothing was changed.";
      return reply(render(p));
    }
    if (!done->callback_url.empty()) {
      http::response res;
      res.status = 303;
      res.content_type = "text/html; charset=utf-8";
      res.header("Location",
                 callback_target(done->callback_url, done->reference));
      res.header("Cache-Control", "no-store");
      return reply(std::move(res));
    }
    page p;
    p.reference = done->reference;
    if (action == "pay") {
      p.title = p.heading = "Payment successful";
      p.message = "You paid " + format_money(done->amount, done->currency)
                  + ". You can close this page.";
    } else {
      p.title = p.heading = "Payment declined";
      p.message = "The payment was declined. You can close this page.";
    }
    reply(render(p));
  };
}

} // namespace souk::sandbox
