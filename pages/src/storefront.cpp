// The buyer's pages: the shop, a product and its buy form, the order page
// that follows an order until its files are ready, downloads, the library
// of past purchases; and signing up, in and out.
//
// A guest buyer's order page is reached with the order's access token,
// which the buy form keeps in a cookie scoped to that order's pages
// (`souk_order`, Path=/orders/ID) and sends to the API as X-Order-Token.

#include <chrono>

#include <fmt/format.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/http/access.hpp"

#include "site.hpp"

namespace souk::pages {

namespace {

using nlohmann::json;

constexpr std::string_view order_cookie = "souk_order";
constexpr std::string_view links_cookie = "souk_links";
constexpr int64_t order_cookie_age = 90ll * 24 * 3600;

// The first lines of a description, for a card.
std::string summary_of(const std::string& text) {
  auto line = text.substr(0, text.find('\n'));
  if (line.size() <= 160)
    return line;
  auto cut = line.rfind(' ', 157);
  return line.substr(0, cut == std::string::npos ? 157 : cut) + "…";
}

// A description's paragraphs (blank lines separate them).
json paragraphs_of(const std::string& text) {
  json out = json::array();
  std::string current;
  size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    auto line = text.substr(start, end == std::string::npos ? std::string::npos
                                                            : end - start);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      if (!current.empty())
        out.push_back(current);
      current.clear();
    } else {
      current += (current.empty() ? "" : " ") + line;
    }
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  if (!current.empty())
    out.push_back(current);
  return out;
}

json product_card(json p) {
  with_money_text(p);
  p["summary"] = summary_of(p.value("description", std::string{}));
  return p;
}

// Headers that make the API see the order's buyer: the access token from
// the order's cookie, if this browser bought it.
std::vector<std::pair<std::string, std::string>>
order_headers(const http::request& req) {
  std::vector<std::pair<std::string, std::string>> h;
  if (auto t = http::cookie(req, order_cookie); t && !t->empty())
    h.emplace_back("X-Order-Token", *t);
  return h;
}

std::string state_text(const std::string& state) {
  static const std::map<std::string, std::string> names{
    {"pending", "Awaiting payment"},
    {"paid", "Paid, preparing"},
    {"delivered", "Delivered"},
    {"failed", "Not completed"},
    {"cancelled", "Cancelled"},
    {"refunding", "Refund in progress"},
    {"refund_pending", "Refund in progress"},
    {"refunded", "Refunded"},
    {"needs_attention", "Being looked into"}};
  auto it = names.find(state);
  return it == names.end() ? state : it->second;
}

bool terminal_for_buyer(const std::string& state) {
  return state == "delivered" || state == "failed" || state == "cancelled"
         || state == "refunded" || state == "needs_attention";
}

// What an event meant, in the buyer's words.
std::string event_text(const json& e) {
  std::string ev = e.value("event", "");
  std::string to = e.value("to", "");
  if (ev == "order.created")
    return "Order placed";
  if (ev == "payment.succeeded")
    return "Payment confirmed";
  if (ev == "payment.failed")
    return "Payment failed";
  if (ev == "payment.expired")
    return "Payment window closed";
  if (ev == "steps.done" && to == "delivered")
    return "Files ready";
  if (ev == "refund.requested")
    return "Refund requested";
  if (ev == "refund.processed")
    return "Refund completed";
  if (ev == "order.cancel")
    return "Order cancelled";
  if (ev == "order.fulfil")
    return "Late payment accepted";
  return "Now " + state_text(to);
}

// The order page's words for where the order stands.
void describe(json& view, const json& order) {
  std::string state = order.value("state", "");
  auto payment = order.value("payment", json(nullptr));
  std::string gw = payment.is_object() && payment["gateway_status"].is_string()
                     ? payment["gateway_status"].get<std::string>()
                     : "";
  std::string product = order.value("product_id", "");
  view["tone"] = "info";
  view["live"] = !terminal_for_buyer(state);
  view["live_key"] = state + "/" + gw;
  if (state == "pending") {
    if (gw == "failed" || gw == "reversed") {
      view["heading"] = "Payment declined";
      view["tone"] = "bad";
      view["message"] = "The payment gateway declined this payment. You have "
                        "not been charged.";
      view["hint"] = "Try again with another card or payment method, or ask "
                     "your bank why it was declined.";
      view["retry_url"] = "/p/" + product;
    } else {
      view["heading"] = "Waiting for your payment";
      view["message"] = "We have not had word of your payment yet. It "
                        "usually takes a few seconds after you pay.";
      if (payment.is_object() && payment.value("status", "") == "initialized"
          && payment["authorization_url"].is_string())
        view["pay_url"] = payment["authorization_url"];
    }
  } else if (state == "paid") {
    view["heading"] = "Payment received";
    view["tone"] = "good";
    view["message"] = "Thank you! We are preparing your download.";
  } else if (state == "delivered") {
    view["heading"] = "Your files are ready";
    view["tone"] = "good";
    view["message"] = "Thank you for your purchase. Download your files "
                      "below; the links are in your email too.";
  } else if (state == "failed") {
    view["heading"] = "This order did not complete";
    view["tone"] = "bad";
    bool expired = false;
    for (auto& e : order["timeline"])
      expired = expired || e.value("event", "") == "payment.expired";
    view["message"] = expired ? "No payment arrived in time, so the order "
                                "was closed. You have not been charged."
                              : "The payment did not go through. You have "
                                "not been charged.";
    view["hint"] = "You can buy the product again at any time.";
    view["retry_url"] = "/p/" + product;
  } else if (state == "cancelled") {
    view["heading"] = "Order cancelled";
    view["tone"] = "bad";
    view["message"] = "This order was cancelled before payment. You have not "
                      "been charged.";
    view["retry_url"] = "/p/" + product;
  } else if (state == "refunding" || state == "refund_pending") {
    view["heading"] = "Refund in progress";
    view["message"] = "Your refund has been started; your bank shows it in a "
                      "few days. Downloads have ended.";
  } else if (state == "refunded") {
    view["heading"] = "Refunded";
    view["message"] = "This order was refunded. Downloads have ended.";
  } else if (state == "needs_attention") {
    view["heading"] = "We are looking into this order";
    view["tone"] = "warn";
    view["message"] = "Something about this order needs a person to check "
                      "it. Nothing is lost: we will email you.";
  } else {
    view["heading"] = "Order " + state_text(state);
    view["message"] = state_text(state);
  }
}

json download_items(const json& list, const std::string& state) {
  json out = json::array();
  if (state != "delivered")
    return out;
  for (auto item : list) {
    std::string status = item.value("status", "");
    int64_t remaining = item.value("remaining", int64_t{0});
    int64_t max = item.value("max_downloads", int64_t{0});
    item["size_text"] = size_text(item.value("size", int64_t{0}));
    item["remaining_text"] = fmt::format("{} of {} download{} left", remaining,
                                         max, max == 1 ? "" : "s");
    // An expired grant is renewed by the fresh link a click asks for.
    item["can_download"] = status == "active" || status == "expired";
    if (status == "active")
      item["expires_text"]
        = "link valid until " + time_text(item.value("expires_at", ""));
    else if (status == "expired")
      item["expires_text"] = "the last link expired; a click renews it";
    if (status == "used_up")
      item["unavailable"] = "No downloads left. The creator can reset the "
                            "count: reply to your receipt email.";
    else if (status == "revoked")
      item["unavailable"] = "Access ended (the order was refunded).";
    out.push_back(std::move(item));
  }
  return out;
}

// The order page, once the order is read. Its downloads are read after it,
// never beside it: grants exist before an order is delivered, so a list read
// after a delivered order is complete (read at the same time, it could come
// from just before the grants and show a delivered order with no files).
// `status`: the page's HTTP status, 200 unless it answers a refused form.
void show_order(const site_ptr& s, const http::request& req,
                http::reply_fn reply, visitor v, json order, std::string error,
                unsigned status) {
  std::string id = order.value("id", "");
  std::string product_id = order.value("product_id", "");
  // Only the buyer downloads here; the creator and operators re-issue
  // links from their own pages.
  bool with_downloads = order.value("viewer", "") == "buyer"
                        && order.value("state", "") == "delivered";
  std::vector<api_request> calls{
    api_request{"GET", "/api/v1/products/" + url_encode(product_id), {}, {}}};
  if (with_downloads) {
    calls.push_back(
      api_request{"GET",
                  "/api/v1/orders/" + url_encode(id) + "/downloads",
                  {},
                  order_headers(req)});
    // Its licence keys, if its flow gives any (by name: the flow's current
    // version).
    if (s->opts.keyed_flows.count(order.value("flow", "")) > 0)
      calls.push_back(
        api_request{"GET",
                    "/api/v1/orders/" + url_encode(id) + "/licence-keys",
                    {},
                    order_headers(req)});
  }
  s->api.all(
    req, std::move(calls),
    [s, &req, reply = std::move(reply), v = std::move(v),
     order = std::move(order), error = std::move(error),
     status](std::vector<api_reply> rs) mutable {
      auto& product = rs[0];
      json view;
      with_money_text(order);
      view["order"] = order;
      view["title"] = "Order";
      view["created_text"] = time_text(order.value("created_at", ""));
      if (product.ok()) {
        view["product_title"] = product.body.value("title", "");
        if (product.body.value("status", "") == "published")
          view["product_link"] = "/p/" + order.value("product_id", "");
      } else {
        view["product_title"] = "Your purchase";
      }
      describe(view, order);
      view["downloads"] = json::array();
      if (rs.size() > 1) {
        if (rs[1].ok())
          view["downloads"] = download_items(
            rs[1].body.value("items", json::array()), order.value("state", ""));
        else if (error.empty())
          error = "Your downloads cannot be listed just now. " + rs[1].detail()
                  + " Reload the page in a moment; the links are in your "
                    "email too.";
      }
      view["licence_keys"] = json::array();
      if (rs.size() > 2) {
        if (rs[2].ok()) {
          for (auto& k : rs[2].body.value("items", json::array()))
            if (k.contains("key"))
              view["licence_keys"].push_back({{"key", k["key"]}});
        } else if (error.empty()) {
          error = "Your licence key cannot be shown just now. " + rs[2].detail()
                  + " Reload the page in a moment; it is in your email too.";
        }
        if (!view["licence_keys"].empty() && view["downloads"].empty()) {
          view["heading"] = "Your licence key is ready";
          view["message"] = "Thank you for your purchase. Your licence key "
                            "is below; it is in your email too.";
        }
      }
      json history = json::array();
      for (auto& e : order["timeline"])
        history.push_back(
          {{"what", event_text(e)}, {"at_text", time_text(e.value("at", ""))}});
      view["history"] = history;
      if (!error.empty())
        view["error"] = error;
      view["title"] = view["heading"];
      reply(render(*s, v, req, status, "order.html", std::move(view)));
    });
}

// The order page; with `error`, the answer to a refused form, said on the
// page with that form's `status`.
void order_page(const site_ptr& s, const http::request& req,
                http::reply_fn reply, std::string error = {},
                unsigned status = 200) {
  auto id = url_encode(req.param("id"));
  with_visitor(
    s, req,
    {api_request{"GET", "/api/v1/orders/" + id, {}, order_headers(req)}},
    [s, &req, reply = std::move(reply), error = std::move(error),
     status](visitor v, std::vector<api_reply> rs) mutable {
      auto& order = rs[0];
      if (order.status == 401 || order.status == 404)
        return reply(message(
          *s, v, req, 404, "Order not found",
          "This order cannot be shown here: open it in the browser you "
          "bought with, or sign in to the account you bought with. Your "
          "receipt and download links are in your email.",
          json::array({{{"href", "/login?next=" + url_encode(req.target)},
                        {"label", "Sign in"}},
                       {{"href", "/"}, {"label", "Go to the shop"}}})));
      if (!order.ok())
        return reply(failure(*s, v, req, order));
      show_order(s, req, std::move(reply), std::move(v), std::move(order.body),
                 std::move(error), status);
    });
}

// "grant:token.grant:token" of the links this browser was last given.
std::map<std::string, std::string> links_of(const http::request& req) {
  std::map<std::string, std::string> out;
  auto c = http::cookie(req, links_cookie);
  if (!c)
    return out;
  std::string_view rest = *c;
  while (!rest.empty()) {
    auto dot = rest.find('.');
    auto pair = rest.substr(0, dot);
    auto colon = pair.find(':');
    if (colon != std::string_view::npos)
      out.emplace(std::string{pair.substr(0, colon)},
                  std::string{pair.substr(colon + 1)});
    rest = dot == std::string_view::npos ? std::string_view{}
                                         : rest.substr(dot + 1);
  }
  return out;
}

// -- signing up and in

json account_view(const form& f, const std::string& next) {
  return {{"email", f.get("email")},
          {"next", next == "/" ? "" : next},
          {"next_encoded", url_encode(next)},
          {"creator", f.get("role") == "creator"}};
}

std::string home_of(const std::string& role) {
  return role == "creator"    ? "/dashboard"
         : role == "operator" ? "/console"
                              : "/library";
}

// Signs in through the API and sends the visitor on with its cookies.
void sign_in(const site_ptr& s, const http::request& req, http::reply_fn reply,
             visitor v, const form& f, std::string next, std::string notice,
             std::string page, json view) {
  s->api.call(
    req,
    api_request{"POST",
                "/api/v1/auth/login",
                {{"email", f.get("email")}, {"password", f.raw("password")}},
                {}},
    [s, &req, reply = std::move(reply), v = std::move(v),
     next = std::move(next), notice = std::move(notice), page = std::move(page),
     view = std::move(view)](api_reply r) mutable {
      if (!r.ok()) {
        view["error"] = r.status == 401
                          ? "That email and password do not match an account."
                          : r.detail();
        return reply(render(*s, v, req, r.status, page, std::move(view)));
      }
      std::string role = r.body["user"].value("role", "");
      auto to = next.empty() || next == "/" ? home_of(role) : next;
      auto res = see_other(to + (to.find('?') == std::string::npos ? "?" : "&")
                           + "notice=" + notice);
      for (auto& [k, val] : r.headers)
        if (k == "set-cookie")
          res.header("Set-Cookie", val);
      reply(std::move(res));
    });
}

} // namespace

void add_storefront(http::router& routes, const site_ptr& s) {
  routes.add("GET", "/", [s](const http::request& req, http::reply_fn reply) {
    auto q = std::string{req.query_param("q").value_or("")};
    auto cursor = std::string{req.query_param("cursor").value_or("")};
    auto target = "/api/v1/products?limit=24";
    std::string t = target;
    if (!q.empty())
      t += "&q=" + url_encode(q);
    if (!cursor.empty())
      t += "&cursor=" + url_encode(cursor);
    with_visitor(
      s, req, {api_request{"GET", t, {}, {}}},
      [s, &req, q, reply = std::move(reply)](visitor v,
                                             std::vector<api_reply> rs) {
        auto& list = rs[0];
        if (!list.ok())
          return reply(failure(*s, v, req, list));
        json products = json::array();
        for (auto& p : list.body["items"])
          products.push_back(product_card(p));
        json view{{"title", q.empty() ? "Shop" : "Search: " + q},
                  {"heading", q.empty() ? "Shop" : "Results for “" + q + "”"},
                  {"q", q},
                  {"products", products}};
        if (list.body["next_cursor"].is_string())
          view["next"]
            = "/?" + (q.empty() ? std::string{} : "q=" + url_encode(q) + "&")
              + "cursor="
              + url_encode(list.body["next_cursor"].get<std::string>());
        reply(render(*s, v, req, 200, "home.html", std::move(view)));
      });
  });

  // The product page; `error` and the form's values when a purchase was
  // refused.
  auto product_page = [s](const http::request& req, http::reply_fn reply,
                          json form_view) {
    with_visitor(
      s, req,
      {api_request{
        "GET", "/api/v1/products/" + url_encode(req.param("id")), {}, {}}},
      [s, &req, reply = std::move(reply), form_view = std::move(form_view)](
        visitor v, std::vector<api_reply> rs) mutable {
        auto& p = rs[0];
        if (!p.ok())
          return reply(failure(*s, v, req, p));
        auto product = p.body;
        with_money_text(product);
        std::string status = product.value("status", "");
        json files = json::array();
        for (auto& f : product["files"])
          files.push_back(
            {{"name", f.value("name", "")},
             {"size_text", size_text(f.value("size", int64_t{0}))}});
        json view{
          {"title", product.value("title", "")},
          {"product", product},
          {"status", status},
          {"is_draft", status != "published"},
          {"buyable",
           status == "published" && !product.value("sold_out", false)},
          {"sold_out",
           status == "published" && product.value("sold_out", false)},
          {"paragraphs", paragraphs_of(product.value("description", ""))},
          {"files", files},
          {"gives_key",
           s->opts.keyed_flows.count(product.value("flow", "")) > 0},
          {"key", new_uuid()},
          {"owner",
           v.signed_in()
             && v.me.value("id", "") == product.value("creator_id", "")}};
        if (v.signed_in())
          view["email"] = v.me.value("email", "");
        if (product["min_price"].is_object())
          view["amount"]
            = major_text(product["price"].value("amount", int64_t{0}));
        unsigned status_code = 200;
        if (form_view.is_object()) {
          for (auto& [k, val] : form_view.items())
            view[k] = val;
          status_code = form_view.value("_status", 422u);
        }
        reply(render(*s, v, req, status_code, "product.html", std::move(view)));
      });
  };

  routes.add("GET", "/p/{id}",
             [product_page](const http::request& req, http::reply_fn reply) {
               product_page(req, std::move(reply), nullptr);
             });

  routes.add(
    "POST", "/p/{id}/buy",
    [s, product_page](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      if (!f)
        return product_page(req, std::move(reply),
                            {{"error", f.err().detail}, {"_status", 403}});
      auto key = f->get("_key");
      if (key.empty() || key.size() > 100)
        key = new_uuid();
      json body{{"product_id", req.param("id")}};
      if (!f->get("email").empty())
        body["email"] = f->get("email");
      json keep{
        {"email", f->get("email")}, {"amount", f->get("amount")}, {"key", key}};
      if (!f->get("amount").empty()) {
        auto minor = parse_major(f->get("amount"));
        if (!minor) {
          keep["amount_error"] = "Write the amount as a number, e.g. 2500 or "
                                 "2500.50.";
          keep["_status"] = 422;
          return product_page(req, std::move(reply), std::move(keep));
        }
        body["amount"] = *minor;
      }
      s->api.call(
        req,
        api_request{"POST", "/api/v1/orders", body,
                    write_headers(req, {{"Idempotency-Key", key}})},
        [s, &req, reply = std::move(reply), product_page,
         keep = std::move(keep)](api_reply r) mutable {
          if (!r.ok()) {
            auto field = r.field();
            if (field == "email" || field == "amount")
              keep[field + "_error"] = r.detail();
            else
              keep["error"] = r.detail();
            keep["_status"] = r.status;
            // A new attempt is a new request.
            keep["key"] = new_uuid();
            return product_page(req, std::move(reply), std::move(keep));
          }
          std::string id = r.body["order"].value("id", "");
          std::string token = r.body["order"].value("access_token", "");
          std::string pay = r.body["payment"].value("authorization_url", "");
          req.log.info("page checkout: order {}", id);
          auto res = see_other(pay);
          res.header("Set-Cookie",
                     page_cookie(*s, order_cookie, token, "/orders/" + id,
                                 order_cookie_age));
          reply(std::move(res));
        });
    });

  routes.add("GET", "/orders/{id}",
             [s](const http::request& req, http::reply_fn reply) {
               order_page(s, req, std::move(reply));
             });

  // What the order page's script polls: enough to know when to reload.
  // Its ETag and long poll (If-None-Match, Prefer: wait) are the API's.
  routes.add("GET", "/orders/{id}/status",
             [s](const http::request& req, http::reply_fn reply) {
               auto headers = order_headers(req);
               for (auto name : {"if-none-match", "prefer"})
                 if (auto v = req.header(name))
                   headers.emplace_back(name, std::string{*v});
               s->api.call(
                 req,
                 api_request{"GET",
                             "/api/v1/orders/" + url_encode(req.param("id")),
                             {},
                             std::move(headers)},
                 [reply = std::move(reply)](api_reply r) {
                   http::response res;
                   res.status = r.ok() ? 200 : r.status;
                   res.header("Cache-Control", "no-store");
                   for (auto [from, to] :
                        {std::pair{"etag", "ETag"},
                         std::pair{"preference-applied", "Preference-Applied"}})
                     if (auto v = r.header(from); !v.empty())
                       res.header(to, v);
                   if (r.status == 304) {
                     res.content_type.clear();
                     return reply(std::move(res));
                   }
                   if (!r.ok()) {
                     res.body = json{{"error", r.detail()}}.dump();
                     return reply(std::move(res));
                   }
                   auto payment = r.body.value("payment", json(nullptr));
                   std::string gw
                     = payment.is_object()
                           && payment["gateway_status"].is_string()
                         ? payment["gateway_status"].get<std::string>()
                         : "";
                   std::string state = r.body.value("state", "");
                   res.body = json{{"state", state},
                                   {"key", state + "/" + gw},
                                   {"terminal", terminal_for_buyer(state)}}
                                .dump();
                   reply(std::move(res));
                 });
             });

  // A download button: the link this browser was last given for the file,
  // else a fresh set of links (one set serves every file of the order).
  routes.add(
    "POST", "/orders/{id}/download",
    [s](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      if (!f)
        return order_page(s, req, std::move(reply), f.err().detail, 403);
      auto grant = f->get("grant_id");
      auto known = links_of(req);
      if (auto it = known.find(grant); it != known.end())
        return reply(see_other("/d/" + it->second));
      auto id = req.param("id");
      s->api.call(
        req,
        api_request{"POST", "/api/v1/orders/" + url_encode(id) + "/downloads",
                    json::object(), write_headers(req, order_headers(req))},
        [s, &req, reply = std::move(reply), grant, id](api_reply r) mutable {
          if (!r.ok())
            return order_page(s, req, std::move(reply),
                              r.status == 429 ? "You asked for fresh links "
                                                "many times in the last hour; "
                                                "use the links in your email, "
                                                "or try again later."
                                              : r.detail(),
                              r.status);
          std::string cookie;
          std::string target;
          auto soonest = now() + std::chrono::hours{24};
          for (auto& l : r.body.value("items", json::array())) {
            std::string url = l.value("url", "");
            auto at = url.rfind("/d/");
            if (at == std::string::npos)
              continue;
            auto token = url.substr(at + 3);
            std::string g = l.value("grant_id", "");
            cookie += (cookie.empty() ? "" : ".") + g + ":" + token;
            if (g == grant)
              target = "/d/" + token;
            if (auto t = parse_iso(l.value("expires_at", ""));
                t && *t < soonest)
              soonest = *t;
          }
          if (target.empty())
            return order_page(s, req, std::move(reply),
                              "That file is no longer part of this order.",
                              410);
          auto age = std::max<int64_t>(
            60,
            std::chrono::duration_cast<std::chrono::seconds>(soonest - now())
              .count());
          auto res = see_other(target);
          res.header("Set-Cookie", page_cookie(*s, links_cookie, cookie,
                                               "/orders/" + id, age));
          reply(std::move(res));
        });
    });

  // From a link that expired: fresh links to the order's email, if the
  // visitor knows it. The answer is the same either way.
  routes.add(
    "POST", "/orders/{id}/resend",
    [s](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      auto go_on = [s, &req](http::reply_fn rep, unsigned status,
                             std::string title, std::string detail) {
        with_visitor(
          s, req, {},
          [s, &req, rep = std::move(rep), status, title,
           detail](visitor v, std::vector<api_reply>) {
            rep(message(
              *s, v, req, status, title, detail,
              json::array({{{"href", "/"}, {"label", "Go to the shop"}}})));
          });
      };
      if (!f)
        return go_on(std::move(reply), 403, "Form not accepted",
                     f.err().detail);
      s->api.call(
        req,
        api_request{"POST",
                    "/api/v1/orders/" + url_encode(req.param("id"))
                      + "/downloads",
                    {{"email", f->get("email")}},
                    {},
                    true},
        [s, go_on, id = req.param("id"),
         reply = std::move(reply)](api_reply r) mutable {
          if (r.status == 429 || r.status == 410 || r.status == 409
              || (r.status == 422 && r.field() == "email"))
            return go_on(std::move(reply), r.status, "No links sent",
                         r.detail());
          // The new links replace any this browser kept: forget those.
          go_on(
            [s, id, reply = std::move(reply)](http::response res) {
              res.header("Set-Cookie",
                         page_cookie(*s, links_cookie, "", "/orders/" + id, 0));
              reply(std::move(res));
            },
            202, "Check your email",
            "If that is the email address the order was placed with, fresh "
            "download links are on their way to it.");
        });
    });

  routes.add(
    "GET", "/library", [s](const http::request& req, http::reply_fn reply) {
      auto cursor = std::string{req.query_param("cursor").value_or("")};
      auto t = std::string{"/api/v1/orders?as=buyer&limit=50"};
      if (!cursor.empty())
        t += "&cursor=" + url_encode(cursor);
      with_visitor(
        s, req, {api_request{"GET", t, {}, {}}},
        [s, &req, reply = std::move(reply)](visitor v,
                                            std::vector<api_reply> rs) {
          if (auto no = require(*s, v, req, ""))
            return reply(std::move(*no));
          if (!rs[0].ok())
            return reply(failure(*s, v, req, rs[0]));
          auto orders = order_rows(rs[0].body["items"]);
          for (auto& o : orders)
            o["state_text"] = state_text(o.value("state", ""));
          json view{{"title", "My purchases"}, {"orders", orders}};
          if (rs[0].body["next_cursor"].is_string())
            view["next"]
              = "/library?cursor="
                + url_encode(rs[0].body["next_cursor"].get<std::string>());
          reply(render(*s, v, req, 200, "library.html", std::move(view)));
        });
    });

  auto account_form = [s](const std::string& page, const std::string& title) {
    return [s, page, title](const http::request& req, http::reply_fn reply) {
      auto next = safe_next(std::string{req.query_param("next").value_or("/")});
      with_visitor(s, req, {},
                   [s, &req, page, title, next, reply = std::move(reply)](
                     visitor v, std::vector<api_reply>) {
                     form empty;
                     if (auto role = req.query_param("role"))
                       empty.fields["role"] = std::string{*role};
                     auto view = account_view(empty, next);
                     view["title"] = title;
                     view["password_min"] = 10;
                     reply(render(*s, v, req, 200, page, std::move(view)));
                   });
    };
  };
  routes.add("GET", "/signup",
             account_form("signup.html", "Create an account"));
  routes.add("GET", "/login", account_form("login.html", "Sign in"));

  routes.add(
    "POST", "/signup", [s](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      with_visitor(
        s, req, {},
        [s, &req, f, reply = std::move(reply)](visitor v,
                                               std::vector<api_reply>) mutable {
          form values = f ? *f : form{};
          auto next = safe_next(values.get("next"));
          auto view = account_view(values, next);
          view["title"] = "Create an account";
          view["password_min"] = 10;
          if (!f) {
            view["error"] = f.err().detail;
            return reply(
              render(*s, v, req, 403, "signup.html", std::move(view)));
          }
          auto role = values.get("role") == "creator" ? "creator" : "customer";
          s->api.call(req,
                      api_request{"POST",
                                  "/api/v1/auth/signup",
                                  {{"email", values.get("email")},
                                   {"password", values.raw("password")},
                                   {"role", role}},
                                  {}},
                      [s, &req, reply = std::move(reply), v, values, next,
                       view = std::move(view)](api_reply r) mutable {
                        if (!r.ok()) {
                          auto field = r.field();
                          if (field == "email" || field == "password")
                            view[field + "_error"] = r.detail();
                          else
                            view["error"] = r.detail();
                          return reply(render(*s, v, req, r.status,
                                              "signup.html", std::move(view)));
                        }
                        sign_in(s, req, std::move(reply), v, values, next,
                                "signed_up", "signup.html", std::move(view));
                      });
        });
    });

  routes.add(
    "POST", "/login", [s](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      with_visitor(s, req, {},
                   [s, &req, f, reply = std::move(reply)](
                     visitor v, std::vector<api_reply>) mutable {
                     form values = f ? *f : form{};
                     auto next = safe_next(values.get("next"));
                     auto view = account_view(values, next);
                     view["title"] = "Sign in";
                     if (!f) {
                       view["error"] = f.err().detail;
                       return reply(render(*s, v, req, 403, "login.html",
                                           std::move(view)));
                     }
                     sign_in(s, req, std::move(reply), v, values, next,
                             "signed_in", "login.html", std::move(view));
                   });
    });

  routes.add("POST", "/logout",
             [s](const http::request& req, http::reply_fn reply) {
               auto f = read_form(*s, req);
               if (!f)
                 return with_visitor(s, req, {},
                                     [s, &req, f, reply = std::move(reply)](
                                       visitor v, std::vector<api_reply>) {
                                       reply(message(*s, v, req, 403,
                                                     "Form not accepted",
                                                     f.err().detail));
                                     });
               s->api.call(req,
                           api_request{"POST", "/api/v1/auth/logout", nullptr,
                                       write_headers(req)},
                           [reply = std::move(reply)](api_reply r) {
                             auto res = see_other("/?notice=signed_out");
                             for (auto& [k, val] : r.headers)
                               if (k == "set-cookie")
                                 res.header("Set-Cookie", val);
                             reply(std::move(res));
                           });
             });
}

} // namespace souk::pages
