#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "souk/core/error.hpp"
#include "souk/http/message.hpp"

namespace souk::http {
class router;
} // namespace souk::http

/// The web pages: a storefront, buyers' order pages and library, the
/// creator's dashboard and the operator's console, rendered on the server
/// from the Mustache templates in `templates/pages/` with a little plain
/// JavaScript. Every page reads and writes through the JSON API's own
/// routes, called in-process with the visitor's credentials, so the pages
/// have the same access control, validation and errors as the API and no
/// other way to the data. docs/pages.md tells the whole story.
namespace souk::pages {

/// How the pages are served.
struct options {
  /// Origins a form may lead to besides souk's own (the payment gateway's
  /// hosted checkout page, which the buy form redirects to), for the
  /// Content-Security-Policy's `form-action`. Empty entries are ignored.
  std::vector<std::string> form_origins;
  /// souk's public origin ("https://shop.example"): a form's Origin must be
  /// it or the request's Host (behind a proxy that rewrites Host, only it).
  std::string public_origin;
  /// Mark page cookies `Secure` (souk's public URL is https).
  bool secure_cookies = false;
  /// The shop's name in titles and the header.
  std::string shop_name = "souk";
  /// Flows that give buyers licence keys, with the pools they take keys
  /// from: their products' editor has a licence keys section.
  std::map<std::string, std::vector<std::string>> keyed_flows;
  /// Those of `keyed_flows` that give files too.
  std::set<std::string> file_and_key_flows;
  /// A flow a product may be sold on, as the product editor offers it.
  struct flow_choice {
    std::string name;        ///< the template's `flow`
    std::string description; ///< the template's `description`, maybe empty
  };
  /// A directory of page templates (`NAME.html`, as in templates/pages/)
  /// and static files (`static/FILE`) adding to or replacing the shipped
  /// ones; empty: the shipped ones.
  std::string templates;
  /// The flows the product editor offers, the default first; with fewer
  /// than two the editor shows no choice (products get the API's default).
  std::vector<flow_choice> flows;
};

/// A page for a browser whose download link (`GET /d/{token}`) cannot be
/// used: what happened and what to do, with a way to fresh links when
/// `order_id` is known. Same status and headers as the problem for `err`.
using link_page_fn = std::function<http::response(
  const http::request& req, const error& err, const std::string& order_id)>;

/// Registers every page on `r` and returns the download link page for the
/// API's `/d/{token}`. REQUIRES: the JSON API is already registered on `r`
/// (http::add_routes) and `r` outlives the server; pages call its routes.
/// Fails only if a shipped template does not parse.
expected<link_page_fn> add_routes(http::router& r, options opts);

} // namespace souk::pages
