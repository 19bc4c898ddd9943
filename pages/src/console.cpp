// The operator's console: live actors (refreshed by the page's script),
// each flow as a state diagram with its orders per state, an order's
// timeline with retry / cancel / fulfil / refund.

#include <fmt/format.h>

#include "souk/core/time.hpp"

#include "site.hpp"
#include "svg.hpp"

namespace souk::pages {

namespace {

using nlohmann::json;

constexpr const char* operator_role = "operator";

std::string duration_text(int64_t ms) {
  if (ms < 1000)
    return fmt::format("{} ms", ms);
  if (ms < 120'000)
    return fmt::format("{} s", ms / 1000);
  if (ms < 7'200'000)
    return fmt::format("{} min", ms / 60'000);
  return fmt::format("{} h", ms / 3'600'000);
}

// The order actors of an `/admin/actors` answer, for the table.
json actor_rows(const json& items) {
  json out = json::array();
  for (auto a : items) {
    if (a.value("kind", "") != "order")
      continue;
    std::string id = a.value("id", "");
    a["short_id"] = id.substr(0, 8) + "…";
    a["live"] = a.value("status", "") == "live";
    a["in_state"] = duration_text(a.value("ms_in_state", int64_t{0}));
    auto step = a.value("step", json(nullptr));
    if (step.is_object())
      a["step_text"] = fmt::format(
        "{} (attempt {}{})", step.value("action", ""), step.value("attempt", 0),
        step.value("in_flight", false) ? ", running" : "");
    a["mailbox"] = std::to_string(a.value("mailbox", 0));
    a["restarts"] = std::to_string(a.value("restarts", 0));
    out.push_back(std::move(a));
  }
  return out;
}

json services_of(const json& items) {
  json out = json::array();
  for (auto a : items)
    if (a.value("kind", "") == "service") {
      a["restarts"] = std::to_string(a.value("restarts", 0));
      out.push_back(std::move(a));
    }
  return out;
}

json flows_of(const json& items) {
  json out = json::array();
  for (auto f : items) {
    f["svg"] = flow_diagram(f);
    for (auto& st : f["states"]) {
      std::string edges;
      auto on = st.value("on", json::object());
      for (auto& [event, target] : on.items())
        edges += (edges.empty() ? "" : ", ") + event + " → "
                 + (target.is_string() ? target.get<std::string>() : "");
      st["edges"] = edges;
      st["orders"] = std::to_string(st.value("orders", int64_t{0}));
    }
    out.push_back(std::move(f));
  }
  return out;
}

void order_page(const site_ptr& s, const http::request& req,
                http::reply_fn reply, unsigned status = 200,
                std::string error = {}) {
  with_visitor(
    s, req,
    {api_request{
      "GET", "/admin/orders/" + url_encode(req.param("id")), {}, {}}},
    [s, &req, reply = std::move(reply), status,
     error = std::move(error)](visitor v, std::vector<api_reply> rs) {
      if (auto no = require(*s, v, req, operator_role))
        return reply(std::move(*no));
      if (!rs[0].ok())
        return reply(failure(*s, v, req, rs[0]));
      auto doc = rs[0].body;
      with_money_text(doc);
      json timeline = json::array();
      for (auto e : doc["timeline"]) {
        e["at_text"] = time_text(e.value("at", ""));
        auto d = e.value("detail", json(nullptr));
        e["detail_text"]
          = d.is_null() || (d.is_object() && d.empty())
              ? ""
              : (d.is_string() ? d.get<std::string>() : d.dump());
        timeline.push_back(std::move(e));
      }
      auto actor = doc.value("actor", json::object());
      std::string actor_text = actor.value("status", "");
      if (actor.contains("state"))
        actor_text
          += fmt::format(" in {} for {}", actor.value("state", ""),
                         duration_text(actor.value("ms_in_state", int64_t{0})));
      json view{{"title", "Order " + doc["order"].value("id", "")},
                {"order", doc["order"]},
                {"timeline", timeline},
                {"outbox", doc.value("outbox", json::array())},
                {"emails", doc.value("email_outbox", json::array())},
                {"grants", doc.value("grants", json::array())},
                {"actor_text", actor_text}};
      auto payments = doc.value("payments", json::array());
      if (!payments.empty())
        view["payment"] = payments.front();
      if (!error.empty())
        view["error"] = error;
      reply(render(*s, v, req, status, "console_order.html", std::move(view)));
    });
}

} // namespace

void add_console(http::router& routes, const site_ptr& s) {
  routes.add(
    "GET", "/console", [s](const http::request& req, http::reply_fn reply) {
      bool passivated = req.query_param("passivated").has_value();
      with_visitor(
        s, req,
        {api_request{"GET",
                     passivated ? "/admin/actors?status=passivated&limit=200"
                                : "/admin/actors?limit=500",
                     {},
                     {}},
         api_request{"GET", "/admin/flows", {}, {}}},
        [s, &req, reply = std::move(reply)](visitor v,
                                            std::vector<api_reply> rs) {
          if (auto no = require(*s, v, req, operator_role))
            return reply(std::move(*no));
          for (auto& r : rs)
            if (!r.ok())
              return reply(failure(*s, v, req, r));
          json view{{"title", "Console"},
                    {"services", services_of(rs[0].body["items"])},
                    {"actors", actor_rows(rs[0].body["items"])},
                    {"node", rs[0].body.value("node", "")},
                    {"flows", flows_of(rs[1].body["items"])}};
          reply(render(*s, v, req, 200, "console.html", std::move(view)));
        });
    });

  // The live actors' rows alone, for the console's refresh.
  routes.add(
    "GET", "/console/actors",
    [s](const http::request& req, http::reply_fn reply) {
      with_visitor(
        s, req, {api_request{"GET", "/admin/actors?limit=500", {}, {}}},
        [s, &req, reply = std::move(reply)](visitor v,
                                            std::vector<api_reply> rs) {
          if (!v.signed_in() || v.role() != operator_role || !rs[0].ok())
            return reply(
              html(rs[0].ok() ? 403 : rs[0].status, "", s->form_origins));
          json view{{"actors", actor_rows(rs[0].body["items"])}};
          view["has_actors"] = !view["actors"].empty();
          reply(html(200, s->views.fragment("_actor_rows.html", view),
                     s->form_origins));
        });
    });

  // The search box: an order id, a payment reference (`souk-<order id>`,
  // what a buyer's bank statement or Paystack shows) or a buyer's email
  // (what a buyer writing in gives: their orders, newest first).
  routes.add(
    "GET", "/console/orders",
    [s](const http::request& req, http::reply_fn reply) {
      auto id = std::string{req.query_param("id").value_or("")};
      while (!id.empty() && id.back() == ' ')
        id.pop_back();
      while (!id.empty() && id.front() == ' ')
        id.erase(0, 1);
      if (id.find('@') == std::string::npos) {
        if (id.starts_with("souk-"))
          id.erase(0, 5);
        return reply(see_other(
          id.empty() ? "/console" : "/console/orders/" + url_encode(id)));
      }
      with_visitor(
        s, req,
        {api_request{"GET",
                     "/api/v1/orders?as=all&limit=100&email=" + url_encode(id),
                     {},
                     {}}},
        [s, &req, id, reply = std::move(reply)](visitor v,
                                                std::vector<api_reply> rs) {
          if (auto no = require(*s, v, req, operator_role))
            return reply(std::move(*no));
          json view{{"title", "Orders of " + id}, {"email", id}};
          if (rs[0].status == 422) {
            view["error"] = rs[0].detail();
            view["orders"] = json::array();
            return reply(
              render(*s, v, req, 422, "console_orders.html", std::move(view)));
          }
          if (!rs[0].ok())
            return reply(failure(*s, v, req, rs[0]));
          view["orders"] = order_rows(rs[0].body["items"]);
          view["more"] = rs[0].body["next_cursor"].is_string();
          reply(
            render(*s, v, req, 200, "console_orders.html", std::move(view)));
        });
    });

  routes.add("GET", "/console/orders/{id}",
             [s](const http::request& req, http::reply_fn reply) {
               order_page(s, req, std::move(reply));
             });

  for (std::string action : {"retry", "cancel", "fulfil", "refund"}) {
    routes.add(
      "POST", "/console/orders/{id}/" + action,
      [s, action](const http::request& req, http::reply_fn reply) {
        auto f = read_form(*s, req);
        if (!f)
          return order_page(s, req, std::move(reply), 403, f.err().detail);
        json body{{"reason", f->get("reason")}};
        if (action == "refund" && !f->get("amount").empty()) {
          auto minor = parse_major(f->get("amount"));
          if (!minor)
            return order_page(s, req, std::move(reply), 422,
                              "Write the refund amount as a number, or leave "
                              "it empty to refund all of it.");
          body["amount"] = *minor;
        }
        auto id = req.param("id");
        s->api.call(
          req,
          api_request{"POST", "/admin/orders/" + url_encode(id) + "/" + action,
                      body, write_headers(req)},
          [s, &req, id, action, reply = std::move(reply)](api_reply r) mutable {
            if (!r.ok())
              return order_page(s, req, std::move(reply), r.status, r.detail());
            req.log.info("console: {} of order {}", action, id);
            reply(see_other("/console/orders/" + url_encode(id) + "?notice="
                            + (action == "retry"    ? "retried"
                               : action == "cancel" ? "cancelled"
                               : action == "fulfil" ? "fulfilled"
                                                    : "refund_requested")));
          });
      });
  }
}

} // namespace souk::pages
