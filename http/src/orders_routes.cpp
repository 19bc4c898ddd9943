// Orders and payments: checkout (`POST /api/v1/orders` with an
// Idempotency-Key), reading an order with its timeline, asking for a refund,
// the gateway's webhook, and the buyer's return from the hosted payment page.
//
// Who may do what:
//  * anyone may check out (a guest gives an email; a signed-in user's own
//    email is the default and the order is linked to the account);
//  * an order is visible to its buyer (signed in, or a guest sending the
//    access token the checkout answered with in X-Order-Token), the
//    product's creator and operators; to anyone else it does not exist
//    (404);
//  * refunds are asked by the product's creator or an operator;
//  * the webhook is authenticated by its signature alone, and the return
//    page by nothing: it only triggers a verify with the gateway and shows
//    where the order stands.

#include <algorithm>

#include <fmt/format.h>
#include <kainjow/mustache.hpp>

#include "souk/accounts/credentials.hpp"
#include "souk/accounts/service.hpp"
#include "souk/core/change_watch.hpp"
#include "souk/core/hash.hpp"
#include "souk/core/worker_pool.hpp"
#include "souk/http/access.hpp"
#include "souk/http/json.hpp"
#include "souk/http/problem.hpp"
#include "souk/metrics/registry.hpp"
#include "souk/payments/service.hpp"
#include "souk/persistence/database.hpp"
#include "souk/persistence/orders.hpp"
#include "souk/persistence/payments.hpp"

#include "routes_internal.hpp"

namespace souk::http {

namespace {

using accounts::principal;
using nlohmann::json;

error no_payments() {
  error e{errc::unavailable, "payments are not configured on this node"};
  e.retry_after = std::chrono::seconds{30};
  return e;
}

json money_json(int64_t amount, const std::string& currency) {
  return {{"amount", amount}, {"currency", currency}};
}

// The order as its buyer, creator or an operator sees it.
json order_json(const persistence::order_snapshot& s,
                const std::optional<persistence::payment_row>& payment,
                const std::vector<persistence::refund_row>& refunds) {
  auto& o = s.order;
  auto timeline = json::array();
  for (auto& e : s.events) {
    auto detail = json::parse(e.detail, nullptr, false);
    timeline.push_back(
      {{"seq", e.seq},
       {"event", e.event},
       {"from", e.from_state.empty() ? json(nullptr) : json(e.from_state)},
       {"to", e.to_state},
       {"actor", e.actor},
       {"detail", detail.is_discarded() ? json(e.detail) : detail},
       {"at", e.created_at}});
  }
  json out{{"id", o.id},
           {"state", o.state},
           {"product_id", o.product_id},
           {"buyer_email", o.buyer_email},
           {"price", money_json(o.amount, o.currency)},
           {"flow", o.flow},
           {"flow_version", o.flow_version},
           {"created_at", o.created_at},
           {"updated_at", o.updated_at},
           {"timeline", timeline}};
  if (!o.last_error.empty())
    out["last_error"] = o.last_error;
  if (payment) {
    auto& p = *payment;
    out["payment"] = {
      {"gateway", p.gateway},
      {"reference", p.reference},
      {"status", p.status},
      {"gateway_status", p.gateway_status},
      {"amount", money_json(p.amount, p.currency)},
      {"authorization_url", p.authorization_url},
      {"settled_by", p.settled_by.empty() ? json(nullptr) : json(p.settled_by)},
      {"settled_at",
       p.settled_at.empty() ? json(nullptr) : json(p.settled_at)}};
  } else {
    out["payment"] = nullptr;
  }
  auto list = json::array();
  for (auto& r : refunds)
    list.push_back({{"id", r.id},
                    {"amount", money_json(r.amount, r.currency)},
                    {"status", r.status},
                    {"created_at", r.created_at}});
  out["refunds"] = list;
  return out;
}

constexpr const char* return_page = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>{{title}}</h1>
<p>{{message}}</p>
{{#order_id}}<p>Order <code>{{order_id}}</code>: <strong id="state">{{state}}</strong></p>{{/order_id}}
</main></body></html>
)";

response return_response(const request& req, unsigned status,
                         const std::string& title, const std::string& message,
                         const std::string& order_id,
                         const std::string& state) {
  auto accept = req.header("accept").value_or("");
  if (accept.find("application/json") != std::string_view::npos)
    return json_response(status, {{"title", title},
                                  {"message", message},
                                  {"order_id", order_id},
                                  {"state", state}});
  // A browser goes on to the order's page, which follows the order live.
  if (!order_id.empty()) {
    response res;
    res.status = 303;
    res.content_type.clear();
    res.header("Location", "/orders/" + order_id);
    res.header("Cache-Control", "no-store");
    return res;
  }
  kainjow::mustache::mustache page{return_page};
  kainjow::mustache::data data;
  data.set("title", title);
  data.set("message", message);
  if (!order_id.empty()) {
    data.set("order_id", order_id);
    data.set("state", state);
  }
  response res;
  res.status = status;
  res.content_type = "text/html; charset=utf-8";
  res.body = page.render(data);
  return res;
}

// Who is reading an order, decided from its visibility row alone.
struct order_reader {
  persistence::order_visibility row;
  const char* as = "buyer"; // buyer, operator or creator
  // Read with the row when the backend allows (see order_page): the order
  // and its events, and its newest payment.
  std::optional<persistence::order_snapshot> view;
  std::optional<persistence::payment_row> payment;
};

bool signed_in_may_see(const principal& who,
                       const persistence::order_visibility& v,
                       const char*& as) {
  if (!v.buyer_id.empty() && v.buyer_id == who.who.id)
    as = "buyer";
  else if (who.who.role == accounts::operator_role)
    as = "operator";
  else if (!v.creator_id.empty() && v.creator_id == who.who.id)
    as = "creator";
  else
    return false;
  return true;
}

// The reader of order `id` (never a payout: that is an instance of the same
// engine, not an order): its signed-in buyer, its creator, an operator, or
// a guest sending the order's access token. One read, which also reads
// the order page's rows where the backend can (order_page). Without `who`
// or a token: unauthorized; anyone else: not_found, as for no order at all.
expected<order_reader> reader_of(const services& svc, const principal* who,
                                 std::optional<std::string_view> token,
                                 const std::string& id) {
  bool has_token = token && !token->empty();
  if (who == nullptr && !has_token)
    return error{errc::unauthorized,
                 "sign in, or send the order's access token (from the "
                 "checkout's answer) in X-Order-Token"};
  auto page = persistence::payment_repository{*svc.db}.order_page_of(id);
  if (!page)
    return page.err();
  if (!*page || (*page)->reader.kind != "order")
    return error{errc::not_found, "no order " + id};
  order_reader out{std::move((*page)->reader), "buyer",
                   std::move((*page)->view), std::move((*page)->payment)};
  if (who != nullptr && signed_in_may_see(*who, out.row, out.as))
    return out;
  // A guest purchase, also after its buyer signed in: the token proves it.
  if (has_token && !out.row.token_hash.empty()
      && accounts::constant_time_equal(out.row.token_hash,
                                       sha256_hex(*token))) {
    out.as = "buyer";
    return out;
  }
  return error{errc::not_found, "no order " + id};
}

// The order with its events, for a reader already let in.
expected<visible_order> read_order(const services& svc,
                                   const order_reader& reader,
                                   const std::string& id) {
  if (reader.view)
    return visible_order{*reader.view, reader.row.creator_id,
                         std::string_view{reader.as} == "buyer"};
  auto snap = persistence::order_repository{*svc.db}.load_view(id);
  if (!snap)
    return snap.err();
  if (!*snap || (*snap)->order.kind != "order")
    return error{errc::not_found, "no order " + id};
  return visible_order{std::move(**snap), reader.row.creator_id,
                       std::string_view{reader.as} == "buyer"};
}

// The validator of what `reader` is shown of the order: weak, since it is
// taken from the rows' versions rather than from the bytes.
std::string etag_of(const order_reader& reader) {
  return "W/\"" + sha256_hex(reader.row.tag + "/" + reader.as).substr(0, 24)
         + "\"";
}

// Whether an If-None-Match list names `etag` (or is "*").
bool none_match(std::string_view list, const std::string& etag) {
  auto weak = [](std::string_view t) {
    t = trim_ows(t);
    if (t.substr(0, 2) == "W/")
      t.remove_prefix(2);
    return t;
  };
  auto want = weak(etag);
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = weak(list.substr(0, comma));
    if (item == "*" || item == want)
      return true;
    if (comma == std::string_view::npos)
      break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// `Prefer: wait=N` (RFC 7240) with `If-None-Match`: a long poll of the
// order, for up to N seconds (at most `longest_wait`).
struct long_poll {
  std::optional<std::chrono::seconds> wait; ///< none: answer at once
  change_watch::clock::time_point until;
};

constexpr std::chrono::seconds longest_wait{30};

// The `wait` preference of every Prefer header, at most `longest_wait`, or
// none. A malformed one is ignored, as RFC 7240 asks of preferences a
// server cannot use.
std::optional<std::chrono::seconds> preferred_wait(const request& req) {
  for (auto& [name, value] : req.headers) {
    if (name != "prefer")
      continue;
    std::string_view list{value};
    while (!list.empty()) {
      auto comma = list.find(',');
      auto item = list.substr(0, comma);
      item = item.substr(0, item.find(';')); // parameters: none defined
      if (auto eq = item.find('='); eq != std::string_view::npos) {
        auto val = trim_ows(item.substr(eq + 1));
        if (val.size() >= 2 && val.front() == '"' && val.back() == '"')
          val = val.substr(1, val.size() - 2);
        auto n = parse_digits(val);
        if (iequals(trim_ows(item.substr(0, eq)), "wait") && n)
          return std::chrono::seconds{
            std::min<uint64_t>(*n, uint64_t{longest_wait.count()})};
      }
      if (comma == std::string_view::npos)
        break;
      list.remove_prefix(comma + 1);
    }
  }
  return std::nullopt;
}

long_poll long_poll_of(const services& svc, const request& req) {
  long_poll out;
  auto wait = preferred_wait(req);
  if (!wait || *wait <= std::chrono::seconds{0} || !svc.order_watch
      || !req.header("if-none-match"))
    return out;
  out.wait = wait;
  out.until = change_watch::clock::now() + *out.wait;
  return out;
}

// Answers `GET /api/v1/orders/{id}` on a database thread: 200 with the
// order, or 304 when If-None-Match names what the reader has. A long poll
// holding the current tag waits in the node's watch instead, and looks
// again when the order changes, every recheck, and at its end.
void answer_order(std::shared_ptr<const services> svc, const request& req,
                  std::shared_ptr<const principal> who, reply_fn reply,
                  long_poll poll) {
  auto id = req.param("id");
  // Before the read: a change committed after it wakes the wait at once.
  uint64_t since = poll.wait ? svc->order_watch->position() : 0;
  auto reader = reader_of(*svc, who.get(), req.header("x-order-token"), id);
  if (!reader)
    return reply(problem(reader.err(), req.request_id));
  auto etag = etag_of(*reader);
  auto applied = [&](response& res) {
    if (poll.wait)
      res.header("Preference-Applied",
                 "wait=" + std::to_string(poll.wait->count()));
  };
  if (auto inm = req.header("if-none-match"); inm && none_match(*inm, etag)) {
    // Nothing new yet: wait for a change while the poll has time left and
    // the node is not stopping. Else 304, after the one read.
    bool stopping = svc->draining && svc->draining();
    if (poll.wait && !stopping
        && change_watch::clock::now() + std::chrono::milliseconds{10}
             < poll.until) {
      auto look_again = [svc, &req, who, reply, poll](change_watch::wake) {
        svc->db->post([svc, &req, who, reply, poll]() mutable {
          answer_order(svc, req, who, std::move(reply), poll);
        });
      };
      if (svc->order_watch->wait(id, since, poll.until, std::move(look_again)))
        return;
    }
    response res;
    res.status = 304;
    res.content_type.clear();
    res.header("ETag", etag);
    res.header("Cache-Control", "no-store");
    applied(res);
    return reply(std::move(res));
  }
  auto found = read_order(*svc, *reader, id);
  if (!found)
    return reply(problem(found.err(), req.request_id));
  // Counted in the reader's row: none there, no read.
  persistence::payment_repository repo{*svc->db};
  std::optional<persistence::payment_row> payment = reader->payment;
  if (reader->row.payments > 0 && !reader->view) {
    auto p = repo.find_by_order(found->snap.order.id);
    if (!p)
      return reply(problem(p.err(), req.request_id));
    payment = std::move(*p);
  }
  std::vector<persistence::refund_row> refunds;
  if (payment && reader->row.refunds > 0) {
    auto list = repo.refunds_of(payment->id);
    if (!list)
      return reply(problem(list.err(), req.request_id));
    refunds = std::move(*list);
  }
  auto doc = order_json(found->snap, payment, refunds);
  doc["viewer"] = reader->as;
  auto res = json_response(200, doc);
  // Read before the order: never newer than the body, so a change in
  // between only costs one more 200.
  res.header("ETag", etag);
  res.header("Cache-Control", "no-store");
  applied(res);
  reply(std::move(res));
}

} // namespace

// The order if `who` may see it; not_found otherwise (the same answer as for
// an order that does not exist). Blocking; one read on PostgreSQL (the
// order page's), two on SQLite.
expected<std::string> late_payment_key(const services& svc,
                                       const std::string& id) {
  if (!svc.payments)
    return no_payments();
  return svc.payments->late_payment_key(id);
}

expected<visible_order> find_visible(const services& svc, const principal& who,
                                     const std::string& id) {
  auto reader = reader_of(svc, &who, std::nullopt, id);
  if (!reader)
    return reader.err();
  return read_order(svc, *reader, id);
}

expected<visible_order> find_visible(const services& svc, const principal* who,
                                     const request& req,
                                     const std::string& id) {
  auto reader = reader_of(svc, who, req.header("x-order-token"), id);
  if (!reader)
    return reader.err();
  return read_order(svc, *reader, id);
}

void request_refund(std::shared_ptr<const services> svc, const request& req,
                    const accounts::principal* who, reply_fn reply) {
  // No body at all asks for a full refund.
  std::optional<json> body = json::object();
  if (!req.body.empty())
    body = json_body(req, reply, {"amount", "reason"});
  if (!body)
    return;
  auto found = find_visible(*svc, *who, req.param("id"));
  if (!found)
    return reply(problem(found.err(), req.request_id));
  auto& o = found->snap.order;
  if (who->who.role != accounts::operator_role
      && found->creator_id != who->who.id)
    return reply(problem(errc::forbidden,
                         "only the product's creator or an "
                         "operator may refund this order",
                         req.request_id));
  // A parked order is an operator's to answer.
  const bool parked = o.state == persistence::parked_state;
  if (parked && who->who.role != accounts::operator_role)
    return reply(problem(errc::forbidden,
                         "an order parked in needs_attention is refunded by "
                         "an operator",
                         req.request_id));
  if (!svc->payments || !svc->deliver_event)
    return reply(problem(no_payments(), req.request_id));
  auto reason = string_field(*body, "reason", std::string{}, 500);
  if (!reason)
    return reply(problem(reason.err(), req.request_id));
  json detail{{"requested_by", who->who.id}, {"reason", *reason}};
  if (auto a = body->find("amount"); a != body->end() && !a->is_null()) {
    if (!a->is_number_integer() || a->get<int64_t>() <= 0
        || a->get<int64_t>() > o.amount)
      return reply(
        problem(error{errc::invalid_field,
                      fmt::format("amount must be a whole number of minor "
                                  "units from 1 to {} (the order's price)",
                                  o.amount),
                      "amount"},
                req.request_id));
    // Nothing was delivered for a payment that came late: it goes back
    // whole, or the rest would be left at the gateway with no way back.
    if (parked && a->get<int64_t>() != o.amount)
      return reply(
        problem(error{errc::invalid_field,
                      fmt::format("a parked order's payment is refunded "
                                  "whole: leave amount out or give {}",
                                  o.amount),
                      "amount"},
                req.request_id));
    detail["amount"] = a->get<int64_t>();
  }
  auto actor
    = (who->who.role == accounts::operator_role ? "operator:" : "creator:")
      + who->who.id;
  auto id = o.id;
  auto state = o.state;
  svc->gateway_workers->post([svc, &req, id, state, actor, parked,
                              detail = detail.dump(),
                              reply = std::move(reply)] {
    // A late payment is refunded only while it is there (not refunded or
    // reversed outside souk), under its key: the payment delivered again
    // later is a duplicate, not another park.
    std::string key;
    if (parked) {
      auto held = late_payment_key(*svc, id);
      if (!held)
        return reply(problem(held.err(), req.request_id));
      key = *held;
    }
    auto outcome
      = svc->deliver_event(id, "refund.requested", actor, detail, key);
    if (!outcome)
      return reply(problem(outcome.err(), req.request_id));
    if (*outcome != "applied")
      return reply(problem(
        errc::conflict,
        parked ? fmt::format("order {} is {}; a parked order is refunded "
                             "through souk only when its payment came "
                             "after it had given up waiting (and it was "
                             "neither fulfilled nor refunded since)",
                             id, state)
               : fmt::format("order {} is {}; its flow takes no refund "
                             "there",
                             id, state),
        req.request_id));
    req.log.info("refund of order {} requested by {}", id, actor);
    reply(json_response(202, {{"order_id", id}, {"state", "refunding"}}));
  });
}

void add_order_routes(router& r, std::shared_ptr<const services> svc) {
  r.add(
    "POST", "/api/v1/orders",
    guard(
      svc, access::anyone(),
      [svc](const request& req, const principal* who, reply_fn reply) {
        if (!svc->payments)
          return reply(problem(no_payments(), req.request_id));
        auto body = json_body(req, reply, {"product_id", "email", "amount"});
        if (!body)
          return;
        payments::checkout_request in;
        auto product = string_field(*body, "product_id", {}, 100);
        if (!product)
          return reply(problem(product.err(), req.request_id));
        in.product_id = *product;
        auto email = string_field(
          *body, "email",
          who ? std::optional<std::string>{who->who.email} : std::nullopt, 320);
        if (!email)
          return reply(problem(email.err(), req.request_id));
        in.email = *email;
        if (auto a = body->find("amount"); a != body->end() && !a->is_null()) {
          if (!a->is_number_integer())
            return reply(
              problem(error{errc::invalid_field,
                            "amount must be a whole number of minor units "
                            "(kobo, cents) written as a JSON integer",
                            "amount"},
                      req.request_id));
          in.amount = a->get<int64_t>();
        }
        in.buyer_id = who ? who->who.id : std::string{};
        in.idempotency_key
          = std::string{req.header("idempotency-key").value_or("")};
        in.scope = "orders:" + (who ? who->who.id : std::string{"guest"});
        // The request as the service will act on it: the same key with
        // other values is a different request.
        in.request_hash = sha256_hex(
          json{{"product_id", in.product_id},
               {"email", in.email},
               {"amount", in.amount ? json(*in.amount) : json(nullptr)}}
            .dump());
        svc->gateway_workers->post(
          [svc, &req, in = std::move(in), reply = std::move(reply)] {
            auto out = svc->payments->checkout(in);
            if (!out)
              return reply(problem(out.err(), req.request_id));
            response res;
            res.status = out->status;
            res.body = out->body;
            if (!out->order_id.empty())
              res.header("Location", "/api/v1/orders/" + out->order_id);
            if (out->replayed)
              res.header("Idempotent-Replayed", "true");
            else
              req.log.info("checkout: order {}", out->order_id);
            reply(std::move(res));
          });
      },
      svc->auth_limiter));

  // A buyer's purchases, a creator's sales, or (operators) every order.
  r.add(
    "GET", "/api/v1/orders",
    guard(
      svc, access::signed_in(),
      [svc](const request& req, const principal* who, reply_fn reply) {
        auto limit = page_limit(req, 20, 100);
        if (!limit)
          return reply(problem(limit.err(), req.request_id));
        auto role = who->who.role;
        auto as = std::string{req.query_param("as").value_or(
          role == accounts::creator         ? "seller"
          : role == accounts::operator_role ? "all"
                                            : "buyer")};
        persistence::order_scope scope;
        if (as == "buyer")
          scope.buyer_id = who->who.id;
        else if (as == "seller" && role == accounts::creator)
          scope.creator_id = who->who.id;
        else if (as != "all" || role != accounts::operator_role)
          return reply(problem(
            error{errc::invalid_field,
                  "as must be buyer (your purchases)"
                    + std::string{role == accounts::creator
                                    ? " or seller (your sales)"
                                  : role == accounts::operator_role ? ", or all"
                                                                    : ""},
                  "as"},
            req.request_id));
        scope.product_id
          = std::string{req.query_param("product_id").value_or("")};
        scope.state = std::string{req.query_param("state").value_or("")};
        // A buyer's orders by the email they paid with (a creator's sales
        // or, for operators, all): what a buyer writing in gives.
        if (auto e = req.query_param("email"); e && !e->empty()) {
          auto email = accounts::normalize_email(*e);
          if (!email)
            return reply(problem(email.err(), req.request_id));
          scope.buyer_email = *email;
        }
        std::string after_created;
        std::string after_id;
        if (auto c = req.query_param("cursor"); c && !c->empty()) {
          auto bar = c->find('|');
          if (bar == std::string_view::npos || bar == 0 || bar + 1 == c->size())
            return reply(
              problem(error{errc::invalid_field,
                            "cursor must be a next_cursor from an earlier page",
                            "cursor"},
                      req.request_id));
          after_created = std::string{c->substr(0, bar)};
          after_id = std::string{c->substr(bar + 1)};
        }
        auto list = persistence::order_repository{*svc->db}.list_for(
          scope, after_created, after_id, *limit + 1);
        if (!list)
          return reply(problem(list.err(), req.request_id));
        json next = nullptr;
        if (list->size() > *limit) {
          list->resize(*limit);
          next = list->back().order.created_at + "|" + list->back().order.id;
        }
        auto items = json::array();
        for (auto& [o, title] : *list)
          items.push_back({{"id", o.id},
                           {"state", o.state},
                           {"product_id", o.product_id},
                           {"product_title", title},
                           {"buyer_email", o.buyer_email},
                           {"price", money_json(o.amount, o.currency)},
                           {"created_at", o.created_at},
                           {"updated_at", o.updated_at}});
        auto res
          = json_response(200, {{"items", items}, {"next_cursor", next}});
        res.header("Cache-Control", "no-store");
        reply(std::move(res));
      }));

  // A guest buyer reads the order with its access token (X-Order-Token).
  r.add("GET", "/api/v1/orders/{id}",
        guard(svc, access::anyone(),
              [svc](const request& req, const principal* who, reply_fn reply) {
                auto poll = long_poll_of(*svc, req);
                // The answer may come after this call (a long poll): keep a
                // copy of who is asking.
                std::shared_ptr<const principal> held;
                if (who != nullptr)
                  held = std::make_shared<const principal>(*who);
                off_loop(
                  *svc, who,
                  [svc, &req, held, poll, reply = std::move(reply)]() mutable {
                    answer_order(svc, req, held, std::move(reply), poll);
                  });
              }));

  r.add("POST", "/api/v1/orders/{id}/refund",
        guard(svc,
              access::only({std::string{accounts::creator},
                            std::string{accounts::operator_role}}),
              [svc](const request& req, const principal* who, reply_fn reply) {
                request_refund(svc, req, who, std::move(reply));
              }));

  r.add("POST", "/api/v1/webhooks/paystack",
        [svc](const request& req, reply_fn reply) {
          if (!svc->payments)
            return reply(problem(no_payments(), req.request_id));
          svc->db->post([svc, &req, reply = std::move(reply)] {
            auto sig = req.header("x-paystack-signature").value_or("");
            auto got = svc->payments->receive_webhook(req.body, sig);
            if (svc->metrics)
              svc->metrics->webhook(
                "paystack", !got                                  ? "rejected"
                            : *got == payments::intake::duplicate ? "duplicate"
                                                                  : "accepted");
            if (!got) {
              if (got.err().code == errc::unauthorized)
                req.log.warn("webhook refused from {}: {}", req.remote,
                             got.err().detail);
              return reply(problem(got.err(), req.request_id));
            }
            if (*got == payments::intake::accepted && svc->on_gateway_event)
              svc->on_gateway_event();
            reply(json_response(
              200, {{"received", true},
                    {"duplicate", *got == payments::intake::duplicate}}));
          });
        });

  r.add(
    "GET", "/api/v1/payments/paystack/return",
    guard(
      svc, access::anyone(),
      [svc](const request& req, const principal*, reply_fn reply) {
        if (!svc->payments)
          return reply(problem(no_payments(), req.request_id));
        auto ref = req.query_param("reference");
        if (!ref || ref->empty())
          ref = req.query_param("trxref");
        if (!ref || ref->empty())
          return reply(
            problem(error{errc::invalid_field,
                          "reference is required (the gateway adds "
                          "?reference= when it sends the buyer back)",
                          "reference"},
                    req.request_id));
        svc->gateway_workers->post([svc, &req, ref = std::string{*ref},
                                    reply = std::move(reply)] {
          auto s = svc->payments->settle(ref, "callback");
          if (!s) {
            if (s.err().code == errc::not_found)
              return reply(problem(s.err(), req.request_id));
            req.log.warn("return from the gateway for {}: {}", ref,
                         s.err().detail);
            return reply(return_response(
              req, 202, "Confirming your payment",
              "We could not reach the payment gateway just now. Your order "
              "completes as soon as the payment is confirmed; you will get an "
              "email.",
              ref.starts_with("souk-")
                  && ref.find_first_not_of("0123456789abcdef-", 5)
                       == std::string::npos
                ? ref.substr(5)
                : std::string{},
              ""));
          }
          // Where the order stands now, for the page (the webhook path
          // does not need it, so settling does not read it).
          std::string state;
          if (auto o
              = persistence::order_repository{*svc->db}.find(s->order_id);
              o && *o)
            state = (*o)->state;
          if (s->payment_status == "succeeded")
            return reply(return_response(req, 200, "Thank you",
                                         "Your payment is confirmed.",
                                         s->order_id, state));
          if (s->payment_status == "mismatch")
            return reply(return_response(
              req, 200, "We are checking your payment",
              "Something about this payment needs a person to look at it; "
              "nothing is lost, and we will be in touch.",
              s->order_id, state));
          return reply(return_response(
            req, 200, "Payment not completed",
            "The gateway reports this payment as " + s->gateway_status
              + ". You have not been charged for it.",
            s->order_id, state));
        });
      },
      svc->auth_limiter));
}

} // namespace souk::http
