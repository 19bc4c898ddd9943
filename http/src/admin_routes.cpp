// The operator's surface: live actors, an order's whole record, the flows
// with their orders per state, actions on an order through its actor, and
// the metrics. Operators only (others get 403); `soukctl` and the operator
// console read the same routes.
//
// Actions never edit rows: retry, cancel, fulfil and refund are events
// delivered to the order's actor (activating it if it was passivated), recorded
// in its timeline with the operator's id, and refused with 409 when the order's
// state does not take them.

#include <set>

#include <fmt/format.h>

#include "souk/accounts/service.hpp"
#include "souk/actors/supervisor.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/metrics/registry.hpp"
#include "souk/orders/library.hpp"
#include "souk/orders/planner.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/deliveries.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using accounts::principal;
using nlohmann::json;

constexpr uint32_t max_actor_page = 500;

json or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json detail_json(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

json timer_json(const persistence::timer_row& t) {
  return {{"id", t.id},
          {"kind", t.kind},
          {"event", t.event},
          {"due_at", t.due_at},
          {"status", t.status},
          {"claimed_by", or_null(t.claimed_by)},
          {"claimed_until", or_null(t.claimed_until)}};
}

json inspection_json(const actors::order_inspection& x) {
  json out{{"kind", "order"},
           {"id", x.order_id},
           {"status", x.responsive ? "live" : "unresponsive"},
           {"restarts", x.restarts},
           {"last_error", or_null(x.last_error)}};
  if (!x.responsive)
    return out;
  auto timers = json::array();
  for (auto& t : x.timers)
    timers.push_back(timer_json(t));
  out.update({{"flow", x.flow},
              {"flow_version", x.flow_version},
              {"state", x.state},
              {"version", x.version},
              {"state_entered_at", x.state_entered_at},
              {"ms_in_state", x.ms_in_state},
              {"mailbox", x.mailbox_size},
              {"queued", x.queued},
              {"parked_from", or_null(x.parked_from)},
              {"timers", timers}});
  if (x.step_attempt > 0)
    out["step"] = {{"index", x.step_index},
                   {"attempt", x.step_attempt},
                   {"action", x.step_action},
                   {"in_flight", x.step_in_flight}};
  else
    out["step"] = nullptr;
  return out;
}

json passivated_json(const persistence::order_row& o, timestamp now) {
  int64_t ms = 0;
  if (auto t = parse_iso(o.state_entered_at))
    ms = std::max<int64_t>(0, (now - *t).count());
  return {{"kind", "order"},
          {"id", o.id},
          {"status", "passivated"},
          {"flow", o.flow},
          {"flow_version", o.flow_version},
          {"state", o.state},
          {"version", o.version},
          {"state_entered_at", o.state_entered_at},
          {"ms_in_state", ms},
          {"mailbox", 0},
          {"queued", 0},
          {"restarts", 0},
          {"parked_from", or_null(o.parked_from)},
          {"last_error", or_null(o.last_error)},
          {"step", nullptr}};
}

json service_json(const actors::child_status& c) {
  return {{"kind", "service"},
          {"id", c.name},
          {"status", c.given_up  ? "given_up"
                     : c.running ? "running"
                                 : "restarting"},
          {"restarts", c.restarts},
          {"last_error", or_null(c.last_error)}};
}

// States that end an order in every current flow that has them: the
// passivated listing leaves them out in SQL (and the rest per flow). A
// parked order is never finished: it waits for a person.
std::vector<std::string> finished_everywhere(const orders::flow_library& lib) {
  std::map<std::string, bool> finished;
  finished[std::string{persistence::parked_state}] = false;
  for (auto& tpl : lib.list())
    for (auto& s : tpl->states) {
      auto [i, fresh] = finished.emplace(s.name, s.terminal);
      if (!fresh)
        i->second = i->second && s.terminal;
    }
  std::vector<std::string> out;
  for (auto& [name, yes] : finished)
    if (yes)
      out.push_back(name);
  return out;
}

bool terminal_in(const orders::flow_library& lib, const std::string& flow,
                 const std::string& state) {
  if (state == persistence::parked_state)
    return false;
  auto tpl = lib.current(flow);
  if (!tpl)
    return false;
  auto* s = (*tpl)->find(state);
  return s != nullptr && s->terminal;
}

// `?name=` of a filter: empty, or [a-z0-9_.-]+ (flow, state and kind names).
expected<std::string> filter_param(const request& req, const char* name) {
  auto v = std::string{req.query_param(name).value_or("")};
  if (v.size() > 64
      || v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-")
           != std::string::npos)
    return error{
      errc::invalid_field,
      fmt::format("{} must be a name of [a-z0-9_.-] (at most 64)", name), name};
  return v;
}

// GET /admin/actors.
void list_actors(const services& svc, const request& req, reply_fn reply) {
  auto limit = page_limit(req, 100, max_actor_page);
  auto kind = filter_param(req, "kind");
  auto status = filter_param(req, "status");
  auto state = filter_param(req, "state");
  auto flow = filter_param(req, "flow");
  for (auto* x : {&kind, &status, &state, &flow})
    if (!*x)
      return reply(problem(x->err(), req.request_id));
  if (!limit)
    return reply(problem(limit.err(), req.request_id));
  if (!kind->empty() && *kind != "order" && *kind != "service")
    return reply(problem(
      error{errc::invalid_field, "kind must be order or service", "kind"},
      req.request_id));
  if (!status->empty() && *status != "live" && *status != "passivated")
    return reply(problem(
      error{errc::invalid_field, "status must be live or passivated", "status"},
      req.request_id));
  if (!svc.survey)
    return reply(problem(
      error{errc::unavailable, "the order engine does not run on this node"},
      req.request_id));
  auto cursor = std::string{req.query_param("cursor").value_or("")};
  // Services alone need no survey of the orders.
  auto live = *kind == "service"
                ? expected<std::vector<actors::order_inspection>>{std::vector<
                  actors::order_inspection>{}}
                : svc.survey();
  if (!live)
    return reply(problem(live.err(), req.request_id));
  auto items = json::array();
  std::string next;

  if (*status == "passivated") {
    // Orders with work left (not in a terminal state) and no actor here:
    // the next event, timer or admin action activates them.
    if (*kind == "service")
      return reply(json_response(
        200,
        {{"items", items}, {"next_cursor", nullptr}, {"node", svc.node_id}}));
    std::set<std::string> running;
    for (auto& x : *live)
      running.insert(x.order_id);
    persistence::order_filter f{"", *flow, *state,
                                finished_everywhere(*svc.flows)};
    persistence::order_repository repo{*svc.db};
    auto now = souk::now();
    auto after = cursor;
    // Rows skipped here (live, or terminal in their own flow) would make a
    // page short: read on until it is full or the table ends.
    while (items.size() < *limit) {
      auto page = repo.list(f, after, *limit);
      if (!page)
        return reply(problem(page.err(), req.request_id));
      for (auto& o : *page) {
        after = o.id;
        if (running.count(o.id) || terminal_in(*svc.flows, o.flow, o.state))
          continue;
        items.push_back(passivated_json(o, now));
        if (items.size() == *limit) {
          next = o.id;
          break;
        }
      }
      if (page->size() < *limit)
        break;
    }
    return reply(json_response(200, {{"items", items},
                                     {"next_cursor", or_null(next)},
                                     {"node", svc.node_id}}));
  }

  // Live: the service actors first (on the first page), then the orders.
  if (cursor.empty() && *kind != "order" && state->empty() && flow->empty()
      && svc.board)
    for (auto& c : svc.board->snapshot())
      items.push_back(service_json(c));
  if (*kind != "service") {
    size_t taken = 0;
    for (auto& x : *live) {
      if (x.order_id <= cursor)
        continue;
      if ((!state->empty() && x.state != *state)
          || (!flow->empty() && x.flow != *flow))
        continue;
      if (taken == *limit) {
        next = items.back()["id"].get<std::string>();
        break;
      }
      items.push_back(inspection_json(x));
      ++taken;
    }
  }
  reply(json_response(
    200,
    {{"items", items}, {"next_cursor", or_null(next)}, {"node", svc.node_id}}));
}

// GET /admin/orders/{id}: everything recorded about one order.
void show_order(const services& svc, const request& req, reply_fn reply) {
  auto id = req.param("id");
  auto h = persistence::order_repository{*svc.db}.history(id);
  if (!h)
    return reply(problem(h.err(), req.request_id));
  if (!*h)
    return reply(problem(errc::not_found, "no order " + id, req.request_id));
  auto& o = (*h)->order;
  auto events = json::array();
  for (auto& e : (*h)->events)
    events.push_back({{"seq", e.seq},
                      {"event", e.event},
                      {"from", or_null(e.from_state)},
                      {"to", e.to_state},
                      {"actor", e.actor},
                      {"detail", detail_json(e.detail)},
                      {"at", e.created_at}});
  auto timers = json::array();
  for (auto& t : (*h)->timers)
    timers.push_back(timer_json(t));
  auto outbox = json::array();
  for (auto& x : (*h)->outbox)
    outbox.push_back({{"id", x.id},
                      {"action", x.action},
                      {"params", detail_json(x.params)},
                      {"idempotency_key", x.idempotency_key},
                      {"status", x.status},
                      {"attempts", x.attempts},
                      {"last_error", or_null(x.last_error)},
                      {"claimed_until", or_null(x.claimed_until)},
                      {"created_at", x.created_at},
                      {"done_at", or_null(x.done_at)}});
  json out{{"order",
            {{"id", o.id},
             {"kind", o.kind},
             {"state", o.state},
             {"version", o.version},
             {"flow", o.flow},
             {"flow_version", o.flow_version},
             {"flow_hash", o.flow_hash},
             {"product_id", or_null(o.product_id)},
             {"buyer_email", or_null(o.buyer_email)},
             {"buyer_id", or_null(o.buyer_id)},
             {"price", {{"amount", o.amount}, {"currency", o.currency}}},
             {"step", {{"index", o.step_index}, {"attempt", o.step_attempt}}},
             {"last_error", or_null(o.last_error)},
             {"parked_from", or_null(o.parked_from)},
             {"state_entered_at", o.state_entered_at},
             {"created_at", o.created_at},
             {"updated_at", o.updated_at}}},
           {"timeline", events},
           {"timers", timers},
           {"outbox", outbox}};

  persistence::payment_repository pay{*svc.db};
  auto payment = pay.find_by_order(o.id);
  if (!payment)
    return reply(problem(payment.err(), req.request_id));
  auto payments = json::array();
  auto refunds = json::array();
  auto inbox = json::array();
  if (*payment) {
    auto& p = **payment;
    payments.push_back(
      {{"id", p.id},
       {"gateway", p.gateway},
       {"reference", p.reference},
       {"status", p.status},
       {"gateway_status", or_null(p.gateway_status)},
       {"amount", {{"amount", p.amount}, {"currency", p.currency}}},
       {"settled_by", or_null(p.settled_by)},
       {"checks", p.checks},
       {"next_check_at", or_null(p.next_check_at)},
       {"created_at", p.created_at},
       {"settled_at", or_null(p.settled_at)}});
    auto rs = pay.refunds_of(p.id);
    if (!rs)
      return reply(problem(rs.err(), req.request_id));
    for (auto& r : *rs)
      refunds.push_back(
        {{"id", r.id},
         {"amount", {{"amount", r.amount}, {"currency", r.currency}}},
         {"status", r.status},
         {"idempotency_key", r.idempotency_key},
         {"created_at", r.created_at}});
    auto events_in = pay.events_with_reference(p.reference);
    if (!events_in)
      return reply(problem(events_in.err(), req.request_id));
    for (auto& e : *events_in)
      inbox.push_back({{"id", e.id},
                       {"gateway", e.gateway},
                       {"event", e.event},
                       {"event_key", e.event_key},
                       {"status", e.status},
                       {"attempts", e.attempts},
                       {"last_error", or_null(e.last_error)},
                       {"received_at", e.received_at},
                       {"processed_at", or_null(e.processed_at)}});
  }
  out["payments"] = payments;
  out["refunds"] = refunds;
  out["inbox"] = inbox;

  persistence::delivery_repository del{*svc.db};
  auto emails = del.emails_of(o.id);
  if (!emails)
    return reply(problem(emails.err(), req.request_id));
  auto mail = json::array();
  for (auto& e : *emails)
    mail.push_back({{"id", e.id},
                    {"template", e.template_name},
                    {"recipient", e.recipient},
                    {"subject", e.subject},
                    {"message_id", e.message_id},
                    {"status", e.status},
                    {"attempts", e.attempts},
                    {"last_error", or_null(e.last_error)},
                    {"created_at", e.created_at},
                    {"sent_at", or_null(e.sent_at)}});
  out["email_outbox"] = mail;
  auto grants = del.grants_of(o.id);
  if (!grants)
    return reply(problem(grants.err(), req.request_id));
  auto gs = json::array();
  for (auto& g : *grants)
    gs.push_back({{"id", g.grant.id},
                  {"file", g.file_name},
                  {"downloads", g.grant.downloads},
                  {"max_downloads", g.grant.max_downloads},
                  {"expires_at", g.grant.expires_at},
                  {"revoked_at", or_null(g.grant.revoked_at)}});
  out["grants"] = gs;

  // The live actor, if it has one here; looking never activates it.
  out["actor"] = {{"status", "passivated"}};
  if (svc.peek) {
    auto x = svc.peek(o.id);
    if (x)
      out["actor"] = inspection_json(*x);
    else if (x.err().code != errc::not_found)
      out["actor"] = {{"status", "unknown"}, {"error", x.err().detail}};
  }
  out["node"] = svc.node_id;
  reply(json_response(200, out));
}

// GET /admin/flows: the current templates, and orders per state of every
// version still holding orders.
void list_flows(const services& svc, const request& req, reply_fn reply) {
  auto counts = persistence::order_repository{*svc.db}.count_by_state();
  if (!counts)
    return reply(problem(counts.err(), req.request_id));
  auto items = json::array();
  for (auto& tpl : svc.flows->list()) {
    std::map<std::string, int64_t> per_state;
    std::map<int32_t, int64_t> per_version;
    for (auto& c : *counts)
      if (c.flow == tpl->name) {
        per_state[c.state] += c.orders;
        per_version[c.flow_version] += c.orders;
      }
    auto states = json::array();
    for (auto& s : tpl->states) {
      auto on = json::object();
      for (auto& [event, to] : s.on)
        on[event] = to;
      auto steps = json::array();
      for (auto& st : s.steps)
        steps.push_back(st.action);
      states.push_back({{"name", s.name},
                        {"terminal", s.terminal},
                        {"steps", steps},
                        {"on", on},
                        {"orders", per_state[s.name]}});
      per_state.erase(s.name);
    }
    // States of older versions (or parked orders' needs_attention when
    // the template has none) still hold orders: show them too.
    for (auto& [name, n] : per_state)
      if (n > 0)
        states.push_back({{"name", name},
                          {"terminal", false},
                          {"steps", json::array()},
                          {"on", json::object()},
                          {"orders", n},
                          {"not_in_template", true}});
    auto versions = json::array();
    for (auto& [v, n] : per_version)
      versions.push_back({{"version", v}, {"orders", n}});
    items.push_back({{"name", tpl->name},
                     {"version", tpl->version},
                     {"hash", tpl->hash},
                     {"kind", tpl->kind},
                     {"description", tpl->description},
                     {"initial", tpl->initial},
                     {"states", states},
                     {"versions", versions}});
  }
  reply(json_response(200, {{"items", items}}));
}

// Why an order action was turned away (409).
std::string refusal(const std::string& id, const std::string& state,
                    const std::string& event) {
  if (event == orders::retry_event)
    return fmt::format("order {} is {}; only an order parked in {} from an "
                       "unfinished state can be retried",
                       id, state, persistence::parked_state);
  if (event == orders::fulfil_event)
    return fmt::format("order {} is {}; only an order parked in {} because "
                       "its payment came after it had given up waiting (and "
                       "that was neither fulfilled nor refunded since) can "
                       "be fulfilled",
                       id, state, persistence::parked_state);
  return fmt::format("order {} is {}; its flow does not take {} there", id,
                     state, event);
}

// POST /admin/orders/{id}/retry|cancel|fulfil: the event, through the actor.
handler order_action(std::shared_ptr<const services> svc, std::string event,
                     std::string verb) {
  return guard(
    svc, access::only({std::string{accounts::operator_role}}),
    [svc, event, verb](const request& req, const principal* who,
                       reply_fn reply) {
      std::optional<json> body = json::object();
      if (!req.body.empty())
        body = json_body(req, reply, {"reason"});
      if (!body)
        return;
      auto reason = string_field(*body, "reason", std::string{}, 500);
      if (!reason)
        return reply(problem(reason.err(), req.request_id));
      auto id = req.param("id");
      auto snap = persistence::order_repository{*svc->db}.load(id);
      if (!snap)
        return reply(problem(snap.err(), req.request_id));
      if (!*snap)
        return reply(
          problem(errc::not_found, "no order " + id, req.request_id));
      if (!svc->deliver_event)
        return reply(problem(error{errc::unavailable,
                                   "the order engine does not run on this "
                                   "node"},
                             req.request_id));
      auto actor = "operator:" + who->who.id;
      json detail{{"requested_by", who->who.id}, {"reason", *reason}};
      auto state = (*snap)->order.state;
      svc->gateway_workers->post([svc, &req, id, state, actor, event, verb,
                                  detail = detail.dump(),
                                  reply = std::move(reply)] {
        // A fulfilment answers a payment: only one still there (not
        // refunded or reversed outside souk), and under its key, so that the
        // payment delivered again later is a duplicate, not another park.
        std::string key;
        if (event == orders::fulfil_event) {
          if (state != persistence::parked_state)
            return reply(problem(errc::conflict, refusal(id, state, event),
                                 req.request_id));
          auto held = late_payment_key(*svc, id);
          if (!held)
            return reply(problem(held.err(), req.request_id));
          key = *held;
        }
        auto outcome = svc->deliver_event(id, event, actor, detail, key);
        if (!outcome)
          return reply(problem(outcome.err(), req.request_id));
        if (*outcome != "applied")
          return reply(
            problem(errc::conflict, refusal(id, state, event), req.request_id));
        auto now_state = state;
        if (auto s = persistence::order_repository{*svc->db}.load(id); s && *s)
          now_state = (*s)->order.state;
        req.log.info("order {}: {} by {} ({} -> {})", id, verb, actor, state,
                     now_state);
        reply(json_response(202, {{"order_id", id},
                                  {"event", event},
                                  {"from", state},
                                  {"state", now_state}}));
      });
    });
}

} // namespace

void add_admin_routes(router& r, std::shared_ptr<const services> svc) {
  const auto operators = access::only({std::string{accounts::operator_role}});

  r.add("GET", "/metrics",
        guard(svc, operators,
              [svc](const request& req, const principal*, reply_fn reply) {
                if (!svc->metrics)
                  return reply(problem(
                    error{errc::unavailable, "metrics are not kept here"},
                    req.request_id));
                response res;
                res.status = 200;
                res.content_type = "text/plain; version=0.0.4; charset=utf-8";
                res.body = svc->metrics->render();
                res.header("Cache-Control", "no-store");
                reply(std::move(res));
              }));

  r.add("GET", "/admin/actors",
        guard(svc, operators,
              [svc](const request& req, const principal*, reply_fn reply) {
                // It waits on the actors: not on a database thread, which
                // the actors it asks may need to answer.
                svc->gateway_workers->post(
                  [svc, &req, reply = std::move(reply)]() mutable {
                    list_actors(*svc, req, std::move(reply));
                  });
              }));

  r.add("GET", "/admin/orders/{id}",
        guard(svc, operators,
              [svc](const request& req, const principal*, reply_fn reply) {
                svc->gateway_workers->post(
                  [svc, &req, reply = std::move(reply)]() mutable {
                    show_order(*svc, req, std::move(reply));
                  });
              }));

  r.add("GET", "/admin/flows",
        guard(svc, operators,
              [svc](const request& req, const principal*, reply_fn reply) {
                if (!svc->flows)
                  return reply(problem(
                    error{errc::unavailable, "no flow library on this node"},
                    req.request_id));
                list_flows(*svc, req, std::move(reply));
              }));

  r.add("POST", "/admin/orders/{id}/retry",
        order_action(svc, std::string{orders::retry_event}, "retry"));
  r.add("POST", "/admin/orders/{id}/cancel",
        order_action(svc, std::string{orders::cancel_event}, "cancel"));
  r.add("POST", "/admin/orders/{id}/fulfil",
        order_action(svc, std::string{orders::fulfil_event}, "fulfil"));
  r.add("POST", "/admin/orders/{id}/refund",
        guard(svc, operators,
              [svc](const request& req, const principal* who, reply_fn reply) {
                request_refund(svc, req, who, std::move(reply));
              }));
}

} // namespace souk::http
