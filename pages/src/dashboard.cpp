// The creator's dashboard: balances, earnings chart, recent sales and
// products; a product's editor with its file upload; all sales; payout
// account and payouts.

#include <cctype>

#include <fmt/format.h>

#include "souk/core/ids.hpp"
#include "souk/core/time.hpp"
#include "souk/core/units.hpp"

#include "site.hpp"
#include "svg.hpp"

namespace souk::pages {

namespace {

using nlohmann::json;

constexpr const char* creator = "creator";

// The editor's fields from a product (or what was typed).
json product_fields(const json& p) {
  json f;
  f["title"] = p.value("title", "");
  f["description"] = p.value("description", "");
  auto price = p.value("price", json::object());
  std::string currency = price.value("currency", "NGN");
  f["price"] = price.contains("amount")
                 ? major_text(price.value("amount", int64_t{0}))
                 : "";
  f["ngn"] = currency == "NGN";
  f["usd"] = currency == "USD";
  auto min = p.value("min_price", json(nullptr));
  f["min_price"]
    = min.is_object() ? major_text(min.value("amount", int64_t{0})) : "";
  f["flow"] = p.value("flow", "");
  f["flow_was"] = f["flow"];
  return f;
}

// The editor's fields as typed, to show them again with an error.
json typed_fields(const form& f) {
  return {{"title", f.get("title")},
          {"description", f.raw("description")},
          {"price", f.get("price")},
          {"min_price", f.get("min_price")},
          {"ngn", f.get("currency") != "USD"},
          {"usd", f.get("currency") == "USD"},
          {"flow", f.get("flow")},
          {"flow_was", f.get("flow_was")}};
}

// Whether the form moves the product to another flow (or, for a new
// product, names one).
bool flow_chosen(const form& f, bool creating) {
  return !f.get("flow").empty()
         && (creating || f.get("flow") != f.get("flow_was"));
}

// "licence_key" → "Licence key", "digital_download" → "Digital download".
std::string flow_title(const std::string& name) {
  std::string out = name;
  for (auto& c : out)
    if (c == '_' || c == '-')
      c = ' ';
  if (!out.empty())
    out[0]
      = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// The API's body from the editor's form; an error names the field.
expected<json> product_body(const form& f, bool creating) {
  json body;
  body["title"] = f.get("title");
  body["description"] = f.raw("description");
  auto currency = f.get("currency") == "USD" ? "USD" : "NGN";
  auto price = parse_major(f.get("price"));
  if (!price)
    return error{errc::invalid_field,
                 "Write the price as a number, e.g. 2500 or 2500.50.", "price"};
  body["price"] = {{"amount", *price}, {"currency", currency}};
  if (f.get("min_price").empty()) {
    if (!creating)
      body["min_price"] = nullptr;
  } else {
    auto min = parse_major(f.get("min_price"));
    if (!min)
      return error{errc::invalid_field,
                   "Write the lowest price as a number, or leave it empty.",
                   "min_price"};
    body["min_price"] = {{"amount", *min}, {"currency", currency}};
  }
  // Sent only when it changes: an unchanged flow the node no longer offers
  // must not make every other edit fail.
  if (flow_chosen(f, creating))
    body["flow"] = f.get("flow");
  return body;
}

// "price.amount" → "price": the form's field for an API field.
std::string form_field(const std::string& api_field) {
  auto dot = api_field.find('.');
  return dot == std::string::npos ? api_field : api_field.substr(0, dot);
}

// The flow picker: the node's flows, the product's own among them even if
// the node no longer offers it. Returns the flow the form shows.
std::string add_flow_choice(json& view, const site& site_,
                            const http::request& req, bool exists,
                            const json& typed) {
  auto& opts = site_.opts;
  // `?flow=NAME`: the flow the creator was moving to when they went to add
  // what it needs (licence keys), chosen again.
  if (auto q = req.query_param("flow"); q && exists && !typed.is_object())
    for (auto& c : opts.flows)
      if (c.name == *q)
        view["form"]["flow"] = c.name;
  std::string flow = view["form"].value("flow", "");
  if (flow.empty() && !opts.flows.empty())
    flow = opts.flows.front().name;
  json flows = json::array();
  bool listed = false;
  auto offer = [&](const std::string& name, const std::string& description) {
    listed = listed || name == flow;
    flows.push_back({{"name", name},
                     {"title", flow_title(name)},
                     {"description", description},
                     {"selected", name == flow}});
  };
  for (auto& c : opts.flows)
    offer(c.name, c.description);
  if (!listed && !flow.empty())
    offer(flow, "");
  view["flows"] = flows;
  view["pick_flow"] = flows.size() > 1;
  view["flow_moving"] = exists && flow != view["form"].value("flow_was", "");
  view["flow_query"] = url_encode(flow);
  return flow;
}

// The licence keys section of a product whose flow (the form's: after a
// refused move to a flow that gives keys, the section to add them is there;
// else its own) gives keys: each pool's stock, a page of keys, the form to
// add more. `licence` is the API's answer on the product's keys (stock per
// pool and a page of keys), null when it could not be read.
void add_licence_section(json& view, const site& site_,
                         const http::request& req, const json& product,
                         bool exists, const std::string& flow,
                         const json& licence) {
  auto& opts = site_.opts;
  json licence_stock
    = licence.is_object() ? licence.value("stock", json::array()) : json();
  // What the product's own flow gives, for the words about its files.
  std::string own = product.value("flow", "");
  bool own_keyed = exists && opts.keyed_flows.count(own) > 0;
  view["gives_keys"] = own_keyed;
  view["keys_only"] = own_keyed && opts.file_and_key_flows.count(own) == 0;
  // A product whose flow gives licence keys: its pools' stock, and a form
  // to add keys. The form's flow counts: after a refused move to a flow
  // that gives keys, the section to add them is there.
  auto keyed
    = opts.keyed_flows.find(opts.keyed_flows.count(flow) > 0 ? flow : own);
  view["keyed"] = exists && keyed != opts.keyed_flows.end();
  json stock = json::array();
  int64_t total = 0;
  if (exists && keyed != opts.keyed_flows.end()) {
    // The pools the flow takes from; a choice only when there are several
    // or the one is not "default" (what the API takes without a pool).
    json pools = json::array();
    for (auto& p : keyed->second)
      pools.push_back({{"name", p}});
    view["pools"] = pools;
    view["pick_pool"]
      = keyed->second.size() > 1 || keyed->second.front() != "default";
    // Every pool the flow takes from, an empty one too (it makes the
    // product sold out), then any other pool that holds keys.
    auto counts = [&](const std::string& pool) {
      if (licence_stock.is_array())
        for (auto& row : licence_stock)
          if (row.value("pool", "") == pool)
            return row;
      return json{{"pool", pool}, {"left", 0}, {"issued", 0}, {"revoked", 0}};
    };
    for (auto& p : keyed->second)
      stock.push_back(counts(p));
    if (licence_stock.is_array())
      for (auto& row : licence_stock)
        if (std::find(keyed->second.begin(), keyed->second.end(),
                      row.value("pool", ""))
            == keyed->second.end())
          stock.push_back(row);
    for (auto& row : stock)
      total += row.value("left", int64_t{0}) + row.value("issued", int64_t{0});
  }
  view["stock_unknown"] = !licence_stock.is_array();
  view["no_keys"] = licence_stock.is_array() && total == 0;
  view["licence_stock"] = licence_stock.is_array() ? stock : json::array();
  // A page of the keys themselves, each left one with a way to withdraw it.
  if (exists && view["keyed"].get<bool>() && licence.is_object()) {
    const std::string base = "/dashboard/products/" + product.value("id", "");
    std::string shown = std::string{req.query_param("keys").value_or("all")};
    json items = json::array();
    for (auto& k : licence.value("items", json::array())) {
      auto state = k.value("status", "");
      items.push_back(
        {{"id", k.value("id", "")},
         {"key", k.value("key", "")},
         {"pool", k.value("pool", "")},
         {"status", state},
         {"order_id", k.value("order_id", "")},
         {"when",
          time_text(k.value(state == "left" ? "added_at" : "issued_at", ""))},
         {"reason", k.value("revoked_reason", "")},
         {"withdrawable", state == "left" && !view["archived"].get<bool>()}});
    }
    view["has_key_list"] = !items.empty();
    view["key_list"] = items;
    // Links within the list keep a flow the creator is moving to.
    auto link = [&](std::string query) {
      if (view["flow_moving"].get<bool>())
        query += (query.empty() ? "flow=" : "&flow=")
                 + view["flow_query"].get<std::string>();
      return base + (query.empty() ? "" : "?" + query) + "#key-list";
    };
    json filters = json::array();
    for (std::string f : {"all", "left", "issued", "revoked"})
      filters.push_back({{"name", f},
                         {"url", link(f == "all" ? "" : "keys=" + f)},
                         {"current", f == shown}});
    view["key_filters"] = filters;
    if (auto next = licence.value("next_cursor", json()); next.is_string())
      view["keys_next"] = link("keys=" + url_encode(shown) + "&keys_cursor="
                               + url_encode(next.get<std::string>()));
  }
}

void editor(const site_ptr& s, const http::request& req, http::reply_fn reply,
            const visitor& v, unsigned status, json product, json typed,
            std::string version, const std::string& error,
            const std::string& field, const json& licence = json::object()) {
  json view;
  bool exists = product.is_object() && product.contains("id");
  view["title"] = exists ? "Edit " + product.value("title", "") : "New product";
  view["heading"] = view["title"];
  view["product"] = exists ? product : json::object();
  view["form"] = typed.is_object() ? typed : product_fields(product);
  auto flow = add_flow_choice(view, *s, req, exists, typed);
  view["version"] = version;
  view["action"] = exists ? "/dashboard/products/" + product.value("id", "")
                          : "/dashboard/products";
  view["save_label"] = exists ? "Save changes" : "Create product";
  view["published"] = exists && product.value("status", "") == "published";
  view["archived"] = exists && product.value("status", "") == "archived";
  view["max_upload"] = "2 GB";
  json files = json::array();
  if (exists)
    for (auto& f : product["files"])
      files.push_back({{"id", f.value("id", "")},
                       {"name", f.value("name", "")},
                       {"size_text", size_text(f.value("size", int64_t{0}))},
                       {"sha_short", f.value("sha256", "").substr(0, 12)}});
  view["files"] = files;
  add_licence_section(view, *s, req, product, exists, flow, licence);
  if (!error.empty()) {
    auto ff = form_field(field);
    if (ff == "title" || ff == "description" || ff == "price"
        || ff == "min_price" || (ff == "flow" && view["pick_flow"].get<bool>()))
      view[ff + "_error"] = error;
    else
      view["error"] = error;
  }
  reply(render(*s, v, req, status, "product_form.html", std::move(view)));
}

std::string etag_version(const std::string& etag) {
  std::string out;
  for (char c : etag)
    if (std::isdigit(static_cast<unsigned char>(c)))
      out += c;
  return out;
}

// Reads the product and shows the editor.
void edit_page(const site_ptr& s, const http::request& req,
               http::reply_fn reply, unsigned status = 200, json typed = {},
               std::string error = {}, std::string field = {}) {
  auto id = url_encode(req.param("id"));
  // The page of keys shown (`?keys=left|issued|revoked`, `?keys_cursor=`).
  std::string keys_query = "?limit=50";
  if (auto shown = req.query_param("keys");
      shown && (*shown == "left" || *shown == "issued" || *shown == "revoked"))
    keys_query += "&status=" + std::string{*shown};
  if (auto cursor = req.query_param("keys_cursor"); cursor && !cursor->empty())
    keys_query += "&cursor=" + url_encode(std::string{*cursor});
  with_visitor(
    s, req,
    {api_request{"GET", "/api/v1/products/" + id, {}, {}},
     api_request{
       "GET", "/api/v1/products/" + id + "/licence-keys" + keys_query, {}, {}}},
    [s, &req, reply = std::move(reply), status, typed = std::move(typed),
     error = std::move(error),
     field = std::move(field)](visitor v, std::vector<api_reply> rs) mutable {
      if (auto no = require(*s, v, req, creator))
        return reply(std::move(*no));
      auto& p = rs[0];
      if (!p.ok())
        return reply(failure(*s, v, req, p));
      if (p.body.value("creator_id", "") != v.me.value("id", ""))
        return reply(message(*s, v, req, 403, "Not your product",
                             "Only its creator can edit a product."));
      editor(s, req, std::move(reply), v, status, p.body, typed,
             etag_version(p.header("etag")), error, field,
             rs[1].ok() ? rs[1].body : json(nullptr));
    });
}

} // namespace

void add_dashboard(http::router& routes, const site_ptr& s) {
  routes.add(
    "GET", "/dashboard", [s](const http::request& req, http::reply_fn reply) {
      with_visitor(
        s, req,
        {api_request{"GET", "/api/v1/wallet", {}, {}},
         api_request{"GET", "/api/v1/dashboard/sales?bucket=day", {}, {}},
         api_request{"GET", "/api/v1/products?mine=1&limit=100", {}, {}},
         api_request{"GET", "/api/v1/orders?as=seller&limit=10", {}, {}}},
        [s, &req, reply = std::move(reply)](visitor v,
                                            std::vector<api_reply> rs) {
          if (auto no = require(*s, v, req, creator))
            return reply(std::move(*no));
          for (auto& r : rs)
            if (!r.ok())
              return reply(failure(*s, v, req, r));
          json balances = json::array();
          for (auto b : rs[0].body["items"]) {
            std::string cur = b.value("currency", "");
            for (auto kind :
                 {"pending", "available", "in_transit", "paid_out", "owed"})
              b[std::string{kind} + "_text"]
                = format_money(b.value(kind, int64_t{0}), cur);
            b["owed"] = b.value("owed", int64_t{0}) != 0;
            balances.push_back(std::move(b));
          }
          json charts = json::array();
          for (auto& series : rs[1].body["series"]) {
            auto totals = series.value("totals", json::object());
            std::string cur = series.value("currency", "");
            charts.push_back(
              {{"currency", cur},
               {"summary",
                fmt::format(
                  "{} sale{}, {} earned", totals.value("sales", int64_t{0}),
                  totals.value("sales", int64_t{0}) == 1 ? "" : "s",
                  format_money(totals.value("earnings", int64_t{0}), cur))},
               {"svg", earnings_chart(series)}});
          }
          json products = json::array();
          for (auto p : rs[2].body["items"]) {
            with_money_text(p);
            p["file_count"] = std::to_string(p["files"].size());
            // On sale, and nothing left to sell: the creator's cue to add
            // keys.
            p["sold_out_badge"] = p.value("status", "") == "published"
                                  && p.value("sold_out", false);
            products.push_back(std::move(p));
          }
          json view{{"title", "Dashboard"},
                    {"balances", balances},
                    {"charts", charts},
                    {"products", products},
                    {"sales", order_rows(rs[3].body["items"])}};
          reply(render(*s, v, req, 200, "dashboard.html", std::move(view)));
        });
    });

  routes.add(
    "GET", "/dashboard/sales",
    [s](const http::request& req, http::reply_fn reply) {
      auto t = std::string{"/api/v1/orders?as=seller&limit=50"};
      // A buyer who writes in gives the email they paid with.
      auto email = std::string{req.query_param("email").value_or("")};
      if (!email.empty())
        t += "&email=" + url_encode(email);
      if (auto c = req.query_param("cursor"); c && !c->empty())
        t += "&cursor=" + url_encode(*c);
      with_visitor(
        s, req, {api_request{"GET", t, {}, {}}},
        [s, &req, email, reply = std::move(reply)](visitor v,
                                                   std::vector<api_reply> rs) {
          if (auto no = require(*s, v, req, creator))
            return reply(std::move(*no));
          json view{{"title", "Sales"}, {"email", email}};
          if (rs[0].status == 422 && rs[0].field() == "email") {
            // Said beside the search box; the page stays usable.
            view["email_error"] = rs[0].detail();
            view["searched"] = true;
            view["sales"] = order_rows(json::array());
            return reply(
              render(*s, v, req, 422, "sales.html", std::move(view)));
          }
          if (!rs[0].ok())
            return reply(failure(*s, v, req, rs[0]));
          view["sales"] = order_rows(rs[0].body["items"]);
          view["searched"] = !email.empty();
          if (rs[0].body["next_cursor"].is_string())
            view["next"]
              = "/dashboard/sales?"
                + (email.empty() ? "" : "email=" + url_encode(email) + "&")
                + "cursor="
                + url_encode(rs[0].body["next_cursor"].get<std::string>());
          reply(render(*s, v, req, 200, "sales.html", std::move(view)));
        });
    });

  routes.add("GET", "/dashboard/products/new",
             [s](const http::request& req, http::reply_fn reply) {
               with_visitor(s, req, {},
                            [s, &req, reply = std::move(reply)](
                              visitor v, std::vector<api_reply>) {
                              if (auto no = require(*s, v, req, creator))
                                return reply(std::move(*no));
                              editor(s, req, std::move(reply), v, 200,
                                     json::object(), nullptr, "", "", "");
                            });
             });

  routes.add(
    "POST", "/dashboard/products",
    [s](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      with_visitor(
        s, req, {},
        [s, &req, f, reply = std::move(reply)](visitor v,
                                               std::vector<api_reply>) mutable {
          if (auto no = require(*s, v, req, creator))
            return reply(std::move(*no));
          if (!f)
            return editor(s, req, std::move(reply), v, 403, json::object(),
                          nullptr, "", f.err().detail, "");
          auto typed = typed_fields(*f);
          auto body = product_body(*f, true);
          if (!body)
            return editor(s, req, std::move(reply), v, 422, json::object(),
                          typed, "", body.err().detail, body.err().field);
          s->api.call(
            req,
            api_request{"POST", "/api/v1/products", *body, write_headers(req)},
            [s, &req, v, typed, reply = std::move(reply)](api_reply r) mutable {
              if (!r.ok())
                return editor(s, req, std::move(reply), v, r.status,
                              json::object(), typed, "", r.detail(), r.field());
              reply(see_other("/dashboard/products/" + r.body.value("id", "")
                              + "?notice=created"));
            });
        });
    });

  routes.add("GET", "/dashboard/products/{id}",
             [s](const http::request& req, http::reply_fn reply) {
               edit_page(s, req, std::move(reply));
             });

  routes.add(
    "POST", "/dashboard/products/{id}",
    [s](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      if (!f)
        return edit_page(s, req, std::move(reply), 403, nullptr,
                         f.err().detail);
      auto typed = typed_fields(*f);
      auto body = product_body(*f, false);
      if (!body)
        return edit_page(s, req, std::move(reply), 422, typed,
                         body.err().detail, body.err().field);
      auto id = req.param("id");
      // What the new flow needs, for the page's words if the move is refused.
      std::string needs = "a file (upload one below)";
      if (s->opts.keyed_flows.count(f->get("flow")) > 0)
        needs = s->opts.file_and_key_flows.count(f->get("flow")) > 0
                  ? "a file and licence keys (add them below)"
                  : "licence keys (add them below)";
      s->api.call(
        req,
        api_request{
          "PATCH", "/api/v1/products/" + url_encode(id), *body,
          write_headers(req, {{"If-Match", "\"" + f->get("version") + "\""}})},
        [s, &req, id, typed, needs,
         reply = std::move(reply)](api_reply r) mutable {
          if (r.status == 412)
            // Someone saved in between: show theirs, say so, keep nothing.
            return edit_page(s, req, std::move(reply), 409, nullptr,
                             "This product was changed since you opened it "
                             "(in another tab, or by the API). Here it is as "
                             "saved now; make your change again.");
          if (r.status == 409 && r.field() == "flow")
            // On sale, and not ready for the new flow (no keys, no file).
            return edit_page(
              s, req, std::move(reply), 409, typed,
              "This product is on sale, so it can move only to a delivery it "
              "is ready for. That one needs "
                + needs + " first; then choose it again.",
              "flow");
          if (!r.ok())
            return edit_page(s, req, std::move(reply), r.status, typed,
                             r.detail(), r.field());
          reply(see_other("/dashboard/products/" + id + "?notice=saved"));
        });
    });

  for (std::string verb : {"publish", "archive"}) {
    routes.add(
      "POST", "/dashboard/products/{id}/" + verb,
      [s, verb](const http::request& req, http::reply_fn reply) {
        auto f = read_form(*s, req);
        if (!f)
          return edit_page(s, req, std::move(reply), 403, nullptr,
                           f.err().detail);
        auto id = req.param("id");
        std::vector<std::pair<std::string, std::string>> h;
        if (!f->get("version").empty())
          h.emplace_back("If-Match", "\"" + f->get("version") + "\"");
        s->api.call(
          req,
          api_request{"POST", "/api/v1/products/" + url_encode(id) + "/" + verb,
                      nullptr, write_headers(req, h)},
          [s, &req, id, verb, reply = std::move(reply)](api_reply r) mutable {
            if (!r.ok())
              return edit_page(s, req, std::move(reply), r.status, nullptr,
                               r.status == 412
                                 ? "This product was changed since you opened "
                                   "it; here it is as saved now."
                                 : r.detail());
            reply(see_other("/dashboard/products/" + id + "?notice="
                            + (verb == "publish" ? "published" : "archived")));
          });
      });
  }

  // Payouts: the account, the requests, and what became of them.
  auto payouts_page = [s](const http::request& req, http::reply_fn reply,
                          unsigned status, json extra) {
    with_visitor(
      s, req,
      {api_request{"GET", "/api/v1/wallet", {}, {}},
       api_request{"GET", "/api/v1/payout-account", {}, {}},
       api_request{"GET", "/api/v1/payouts?limit=50", {}, {}}},
      [s, &req, reply = std::move(reply), status,
       extra = std::move(extra)](visitor v, std::vector<api_reply> rs) {
        if (auto no = require(*s, v, req, creator))
          return reply(std::move(*no));
        for (auto& r : rs)
          if (!r.ok() && r.status != 503)
            return reply(failure(*s, v, req, r));
        json available = json::array();
        for (auto& b : rs[0].body.value("items", json::array()))
          available.push_back(
            {{"text", format_money(b.value("available", int64_t{0}),
                                   b.value("currency", ""))}});
        json payouts = json::array();
        for (auto p : rs[2].body.value("items", json::array())) {
          with_money_text(p);
          p["created_text"] = time_text(p.value("created_at", ""));
          payouts.push_back(std::move(p));
        }
        json view{{"title", "Payouts"},
                  {"available", available},
                  {"accounts", rs[1].body.value("items", json::array())},
                  {"payouts", payouts},
                  {"key", new_uuid()}};
        if (extra.is_object())
          for (auto& [k, val] : extra.items())
            view[k] = val;
        reply(render(*s, v, req, status, "payouts.html", std::move(view)));
      });
  };
  routes.add("GET", "/dashboard/payouts",
             [payouts_page](const http::request& req, http::reply_fn reply) {
               payouts_page(req, std::move(reply), 200, nullptr);
             });

  routes.add(
    "POST", "/dashboard/payout-account",
    [s, payouts_page](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      if (!f)
        return payouts_page(req, std::move(reply), 403,
                            {{"error", f.err().detail}});
      json typed{{"name", f->get("name")},
                 {"account_number", f->get("account_number")},
                 {"bank_code", f->get("bank_code")}};
      s->api.call(
        req,
        api_request{"PUT",
                    "/api/v1/payout-account",
                    {{"currency", f->get("currency") == "USD" ? "USD" : "NGN"},
                     {"name", f->get("name")},
                     {"account_number", f->get("account_number")},
                     {"bank_code", f->get("bank_code")}},
                    write_headers(req)},
        [payouts_page, &req, typed,
         reply = std::move(reply)](api_reply r) mutable {
          if (!r.ok()) {
            json extra{{"account", typed}};
            auto field = r.field();
            if (field == "name" || field == "account_number"
                || field == "bank_code")
              extra[field + "_error"] = r.detail();
            else
              extra["error"] = r.detail();
            return payouts_page(req, std::move(reply), r.status,
                                std::move(extra));
          }
          reply(see_other("/dashboard/payouts?notice=account_saved"));
        });
    });

  routes.add(
    "POST", "/dashboard/payouts",
    [s, payouts_page](const http::request& req, http::reply_fn reply) {
      auto f = read_form(*s, req);
      if (!f)
        return payouts_page(req, std::move(reply), 403,
                            {{"error", f.err().detail}});
      auto amount = parse_major(f->get("amount"));
      json typed{{"amount", f->get("amount")}};
      if (!amount)
        return payouts_page(
          req, std::move(reply), 422,
          {{"form", typed},
           {"amount_error", "Write the amount as a number, e.g. 10000."}});
      auto key = f->get("_key");
      if (key.empty() || key.size() > 100)
        key = new_uuid();
      s->api.call(
        req,
        api_request{"POST",
                    "/api/v1/payouts",
                    {{"amount", *amount},
                     {"currency", f->get("currency") == "USD" ? "USD" : "NGN"}},
                    write_headers(req, {{"Idempotency-Key", key}})},
        [payouts_page, &req, typed,
         reply = std::move(reply)](api_reply r) mutable {
          if (!r.ok()) {
            json extra{{"form", typed}};
            if (r.field() == "amount")
              extra["amount_error"] = r.detail();
            else
              extra["error"] = r.detail();
            return payouts_page(req, std::move(reply), r.status,
                                std::move(extra));
          }
          reply(see_other("/dashboard/payouts?notice=payout_requested"));
        });
    });
}

} // namespace souk::pages
