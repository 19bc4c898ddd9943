#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "souk/http/router.hpp"
#include "souk/pages/pages.hpp"

#include "api.hpp"
#include "view.hpp"

// What every page handler shares: the API, the templates, the visitor.
namespace souk::pages {

/// The pages' shared, read-only state.
struct site {
  pages::api api;
  pages::views views;
  pages::options opts;
  std::string form_origins; ///< opts.form_origins joined for the CSP
};
using site_ptr = std::shared_ptr<const site>;

/// Who is looking, as far as a page needs to know.
struct visitor {
  /// `GET /api/v1/me`, or null when not signed in.
  nlohmann::json me;
  /// What the page's forms carry in `_csrf`.
  std::string csrf;
  /// A new form cookie to send with the page (first visit), or "".
  std::string form_cookie;

  bool signed_in() const { return me.is_object(); }
  std::string role() const {
    return signed_in() ? me.value("role", std::string{}) : std::string{};
  }
};

/// A visitor not signed in, known by the form cookie alone (no API call):
/// its token, or a new one to set.
visitor guest_visitor(const http::request& req);

using visitor_fn = std::function<void(visitor, std::vector<api_reply>)>;

/// Makes `calls` to the API at once (with `GET /api/v1/me` when the visitor
/// sends a session cookie), then calls `fn` with the visitor and the
/// replies to `calls`, in order.
void with_visitor(const site_ptr& s, const http::request& req,
                  std::vector<api_request> calls, visitor_fn fn);

/// Page `name` in the layout, with `view` plus what the layout needs (the
/// visitor, the CSRF value, notices from `?notice=`).
http::response render(const site& s, const visitor& v, const http::request& req,
                      unsigned status, const std::string& name,
                      nlohmann::json view);

/// A page that says what happened and what to do next. `actions` is a list
/// of `{href, label}`.
http::response message(const site& s, const visitor& v,
                       const http::request& req, unsigned status,
                       const std::string& title, const std::string& detail,
                       nlohmann::json actions = nlohmann::json::array());

/// An API answer that is not a success, as a page: 401 sends the visitor to
/// sign in and come back, anything else says what the API said.
http::response failure(const site& s, const visitor& v,
                       const http::request& req, const api_reply& r);

/// The visitor may see a page only with `role` ("" = any signed-in user):
/// nullopt if so, else the answer (sign in first, or 403).
std::optional<http::response> require(const site& s, const visitor& v,
                                      const http::request& req,
                                      const std::string& role);

/// A submitted form's fields.
struct form {
  std::map<std::string, std::string> fields;
  /// The field, trimmed of surrounding spaces ("" when absent).
  std::string get(const std::string& name) const;
  /// The field as sent ("" when absent): passwords, descriptions.
  std::string raw(const std::string& name) const;
};

/// Reads a urlencoded form and checks it came from one of souk's own pages
/// (CSRF): its `_csrf` must match the visitor's session (or, before
/// sign-in, the form cookie) and its Origin, if sent, must be this host.
/// The error is a page to send back.
expected<form> read_form(const site& s, const http::request& req);

/// Headers for a write through the API on behalf of a checked form: the
/// X-CSRF-Token of the visitor's session, if any, plus `more`.
std::vector<std::pair<std::string, std::string>>
write_headers(const http::request& req,
              std::vector<std::pair<std::string, std::string>> more = {});

/// A cookie for the pages (`Path`, HttpOnly, SameSite=Lax, Secure when
/// configured); `max_age` 0 deletes it.
std::string page_cookie(const site& s, std::string_view name,
                        const std::string& value, const std::string& path,
                        int64_t max_age);

/// `text` percent-encoded for a URL query or path segment.
std::string url_encode(std::string_view text);

/// A local path to go back to (`next=`), or "/" if `next` is not one.
std::string safe_next(const std::string& next);

/// Adds `money_text` of `obj[key]` as `obj[key + "_text"]`, recursively
/// into arrays and objects.
void with_money_text(nlohmann::json& doc);

/// The items of an order list from the API (`GET /api/v1/orders`), each
/// with its money as text and `created_text`, for a table of orders.
nlohmann::json order_rows(const nlohmann::json& items);

/// Registration of each group of pages.
void add_storefront(http::router& r, const site_ptr& s);
void add_dashboard(http::router& r, const site_ptr& s);
void add_console(http::router& r, const site_ptr& s);

} // namespace souk::pages
