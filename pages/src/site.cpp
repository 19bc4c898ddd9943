#include "site.hpp"

#include <fmt/format.h>

#include "souk/accounts/credentials.hpp"
#include "souk/core/ids.hpp"
#include "souk/http/access.hpp"

#include "view.hpp"

namespace souk::pages {

namespace {

constexpr std::string_view form_cookie_name = "souk_form";

// Notices a page shows after a redirect (`?notice=NAME`): fixed texts, so a
// link can never make souk say something it did not.
const std::map<std::string, std::string>& notices() {
  static const std::map<std::string, std::string> texts{
    {"signed_up", "Welcome! Your account is ready."},
    {"signed_in", "You are signed in."},
    {"signed_out", "You are signed out."},
    {"created", "Product created. Add a file and publish it when ready."},
    {"saved", "Saved."},
    {"published", "Published: the product is on sale now."},
    {"archived", "Archived: the product is no longer for sale."},
    {"uploaded", "File uploaded."},
    {"file_removed", "File removed."},
    {"key_withdrawn", "Key withdrawn: no buyer will get it."},
    {"keys_added", "Licence keys added. Keys you had added before were "
                   "skipped."},
    {"keys_present", "Those keys were all there already: nothing was "
                     "added."},
    {"account_saved", "Payout account saved."},
    {"payout_requested", "Payout requested. Its status is below."},
    {"retried", "Retry sent to the order."},
    {"cancelled", "The order was cancelled."},
    {"refund_requested", "Refund requested."},
    {"fulfilled", "Fulfilment sent to the order."},
    {"links_sent",
     "If that is the order's email address, fresh links are on their way."},
  };
  return texts;
}

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// `has_NAME` next to every list NAME, for "{{#has_NAME}}" sections
// (Mustache has no "is this list empty" of its own).
void flag_lists(nlohmann::json& doc) {
  if (doc.is_array()) {
    for (auto& x : doc)
      flag_lists(x);
    return;
  }
  if (!doc.is_object())
    return;
  std::vector<std::string> lists;
  for (auto& [k, v] : doc.items()) {
    if (v.is_array())
      lists.push_back(k);
    flag_lists(v);
  }
  for (auto& k : lists)
    doc["has_" + k] = !doc[k].empty();
}

} // namespace

visitor guest_visitor(const http::request& req) {
  visitor v;
  if (auto c = http::cookie(req, form_cookie_name); c && c->size() >= 16) {
    v.csrf = *c;
  } else {
    v.csrf = random_token(18);
    v.form_cookie = v.csrf;
  }
  return v;
}

void with_visitor(const site_ptr& s, const http::request& req,
                  std::vector<api_request> calls, visitor_fn fn) {
  auto session = http::cookie(req, http::session_cookie);
  bool ask_me = session && !session->empty();
  if (ask_me)
    calls.insert(calls.begin(), api_request{"GET", "/api/v1/me", {}, {}});
  s->api.all(
    req, std::move(calls),
    [s, &req, ask_me, session, fn = std::move(fn)](std::vector<api_reply> rs) {
      visitor v;
      if (ask_me) {
        if (rs.front().ok())
          v.me = std::move(rs.front().body);
        rs.erase(rs.begin());
      }
      if (v.signed_in()) {
        v.csrf = accounts::csrf_token_for(*session);
      } else {
        auto guest = guest_visitor(req);
        v.csrf = std::move(guest.csrf);
        v.form_cookie = std::move(guest.form_cookie);
      }
      fn(std::move(v), std::move(rs));
    });
}

http::response render(const site& s, const visitor& v, const http::request& req,
                      unsigned status, const std::string& name,
                      nlohmann::json view) {
  view["shop_name"] = s.opts.shop_name;
  view["csrf"] = v.csrf;
  if (v.signed_in()) {
    view["me"] = v.me;
    auto role = v.role();
    view["is_creator"] = role == "creator";
    view["is_operator"] = role == "operator";
    view["is_customer"] = role == "customer";
  }
  if (auto n = req.query_param("notice")) {
    auto it = notices().find(std::string{*n});
    if (it != notices().end())
      view["notice"] = it->second;
  }
  if (!view.contains("title"))
    view["title"] = s.opts.shop_name;
  flag_lists(view);
  auto res = html(status, s.views.page(name, view), s.form_origins);
  if (!v.form_cookie.empty())
    res.header("Set-Cookie", page_cookie(s, form_cookie_name, v.form_cookie,
                                         "/", 7 * 24 * 3600));
  return res;
}

http::response message(const site& s, const visitor& v,
                       const http::request& req, unsigned status,
                       const std::string& title, const std::string& detail,
                       nlohmann::json actions) {
  return render(
    s, v, req, status, "message.html",
    {{"title", title}, {"detail", sentence(detail)}, {"actions", actions}});
}

http::response failure(const site& s, const visitor& v,
                       const http::request& req, const api_reply& r) {
  if (r.status == 401)
    return see_other("/login?next=" + url_encode(req.target));
  std::string title = r.body.is_object()
                        ? r.body.value("title", std::string{"Something failed"})
                        : "Something failed";
  auto actions
    = nlohmann::json::array({{{"href", "/"}, {"label", "Go to the shop"}}});
  if (r.status == 404)
    title = "Not found";
  return message(s, v, req, r.status >= 400 ? r.status : 502, title, r.detail(),
                 actions);
}

std::optional<http::response> require(const site& s, const visitor& v,
                                      const http::request& req,
                                      const std::string& role) {
  if (!v.signed_in())
    return see_other("/login?next=" + url_encode(req.target));
  if (!role.empty() && v.role() != role)
    return message(
      s, v, req, 403, "Not for this account",
      fmt::format("This page is for {}s; you are signed in as {} ({}).", role,
                  v.me.value("email", std::string{}), v.role()),
      nlohmann::json::array({{{"href", "/"}, {"label", "Go to the shop"}}}));
  return std::nullopt;
}

std::string form::get(const std::string& name) const {
  return trim(raw(name));
}

std::string form::raw(const std::string& name) const {
  auto it = fields.find(name);
  return it == fields.end() ? std::string{} : it->second;
}

expected<form> read_form(const site& s, const http::request& req) {
  (void)s;
  error stale{errc::forbidden,
              "This form could not be accepted (it expired, or it did not "
              "come from this site). Go back, reload the page and try again."};
  auto type = std::string{req.header("content-type").value_or("")};
  if (!type.starts_with("application/x-www-form-urlencoded"))
    return error{errc::invalid_field,
                 "a form must be sent as application/x-www-form-urlencoded"};
  // Browsers send Origin with every POST; when present it must be us.
  if (auto origin = req.header("origin")) {
    auto host = std::string{req.header("host").value_or("")};
    auto o = std::string{*origin};
    auto scheme = o.find("://");
    bool ours
      = (!s.opts.public_origin.empty() && o == s.opts.public_origin)
        || (scheme != std::string::npos && o.substr(scheme + 3) == host);
    if (!ours)
      return stale;
  }
  auto decoded = http::decode_query(req.body);
  if (!decoded)
    return error{errc::invalid_field, "the form's encoding is malformed"};
  form out;
  for (auto& [k, v] : *decoded)
    out.fields.emplace(k, v);
  auto sent = out.raw("_csrf");
  if (sent.empty())
    return stale;
  bool ok = false;
  if (auto session = http::cookie(req, http::session_cookie);
      session && !session->empty())
    ok
      = accounts::constant_time_equal(sent, accounts::csrf_token_for(*session));
  if (!ok) {
    auto c = http::cookie(req, form_cookie_name);
    ok = c && c->size() >= 16 && accounts::constant_time_equal(sent, *c);
  }
  if (!ok)
    return stale;
  return out;
}

std::vector<std::pair<std::string, std::string>>
write_headers(const http::request& req,
              std::vector<std::pair<std::string, std::string>> more) {
  if (auto session = http::cookie(req, http::session_cookie);
      session && !session->empty())
    more.emplace_back("X-CSRF-Token", accounts::csrf_token_for(*session));
  return more;
}

std::string page_cookie(const site& s, std::string_view name,
                        const std::string& value, const std::string& path,
                        int64_t max_age) {
  return fmt::format("{}={}; Path={}; Max-Age={}; HttpOnly; SameSite=Lax{}",
                     name, value, path, max_age,
                     s.opts.secure_cookies ? "; Secure" : "");
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string safe_next(const std::string& next) {
  // Only a path on this site: "/x", never "//host" or "/\host".
  if (next.size() < 1 || next[0] != '/'
      || (next.size() > 1 && (next[1] == '/' || next[1] == '\\')))
    return "/";
  for (unsigned char c : next)
    if (c < 0x20 || c == 0x7f)
      return "/";
  return next;
}

nlohmann::json order_rows(const nlohmann::json& items) {
  auto out = nlohmann::json::array();
  for (auto o : items) {
    with_money_text(o);
    o["created_text"] = time_text(o.value("created_at", ""));
    out.push_back(std::move(o));
  }
  return out;
}

void with_money_text(nlohmann::json& doc) {
  if (doc.is_array()) {
    for (auto& x : doc)
      with_money_text(x);
    return;
  }
  if (!doc.is_object())
    return;
  std::vector<std::pair<std::string, std::string>> added;
  for (auto& [k, v] : doc.items()) {
    if (v.is_object() && v.contains("amount") && v.contains("currency")
        && v.size() == 2)
      added.emplace_back(k + "_text", money_text(v));
    else
      with_money_text(v);
  }
  for (auto& [k, v] : added)
    doc[k] = v;
}

} // namespace souk::pages
