// Registers the pages and serves their static files; the download link
// page for `/d/{token}`.

#include "souk/pages/pages.hpp"

#include "souk/http/problem.hpp"

#include "site.hpp"

namespace souk::pages {

namespace {

void add_static(http::router& r, const site_ptr& s) {
  r.add("GET", "/static/{name}",
        [s](const http::request& req, http::reply_fn reply) {
          auto* a = s->views.find_asset(req.param("name"));
          if (!a) {
            auto res
              = http::problem(errc::not_found, "no such file", req.request_id);
            return reply(std::move(res));
          }
          http::response res;
          if (req.header("if-none-match").value_or("") == a->etag) {
            res.status = 304;
            res.content_type.clear();
          } else {
            res.content_type = a->content_type;
            res.body = std::string{a->content};
          }
          res.header("ETag", a->etag);
          // URLs carry the files' version (?v=), so a long cache is safe.
          res.header("Cache-Control", "public, max-age=86400");
          reply(std::move(res));
        });
}

// What the buyer can do about a link that does not work.
nlohmann::json link_view(const error& err, const std::string& order_id) {
  nlohmann::json view{{"detail", sentence(err.detail)}, {"order_id", order_id}};
  switch (err.code) {
  case errc::link_expired:
    view["title"] = "This download link has expired";
    view["expired"] = true;
    break;
  case errc::link_used_up:
    view["title"] = "This download link is used up";
    view["used_up"] = true;
    break;
  case errc::link_replaced:
    view["title"] = "This download link was replaced";
    view["replaced"] = true;
    break;
  case errc::link_revoked:
    view["title"] = "Access to this download has ended";
    view["revoked"] = true;
    break;
  case errc::not_found:
    view["title"] = "This download link is not known";
    break;
  default:
    view["title"] = "This download is not available right now";
    break;
  }
  view["can_resend"]
    = !order_id.empty()
      && (err.code == errc::link_expired || err.code == errc::link_replaced);
  return view;
}

} // namespace

expected<link_page_fn> add_routes(http::router& r, options opts) {
  auto loaded = views::load(opts.templates);
  if (!loaded)
    return loaded.err();
  auto s = std::make_shared<site>(site{api{r}, std::move(*loaded), opts, ""});
  for (auto& o : opts.form_origins)
    if (!o.empty())
      s->form_origins += (s->form_origins.empty() ? "" : " ") + o;
  add_static(r, s);
  add_storefront(r, s);
  add_dashboard(r, s);
  add_console(r, s);
  site_ptr shared = s;
  return link_page_fn{[shared](const http::request& req, const error& err,
                               const std::string& order_id) {
    auto doc = http::problem(err, req.request_id);
    // No API call here (the link route answers at once): the visitor is
    // whoever holds the form cookie.
    auto v = guest_visitor(req);
    auto res = render(*shared, v, req, doc.status, "link.html",
                      link_view(err, order_id));
    for (auto& h : doc.headers)
      if (h.first == "Retry-After")
        res.headers.push_back(h);
    // Referrer-Policy stays same-origin: the link's token is sent only
    // back to souk (with no-referrer, the form's Origin would be "null").
    return res;
  }};
}

} // namespace souk::pages
